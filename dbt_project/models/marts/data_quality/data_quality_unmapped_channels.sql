-- The source values seeds/channel_mappings.csv does not know, with how many CRM
-- touches carry them: a UTM medium not mapped (the touch then falls back on its
-- source), and a touch source not mapped under its field (the touch is 'unmapped'
-- unless its UTM medium is mapped). Add them to the seed to put them in a channel.
with

touches as (

    select * from {{ ref('int_touches_mapped_to_channels') }}

),

channel_mappings as (

    select * from {{ ref('channel_mappings') }}

),

touch_values as (

    select
        'utm_medium' as source_field,
        nullif(lower(trim(utm_medium)), '') as source_value

    from touches
    where nullif(trim(utm_medium), '') is not null

    union all

    select
        touch_source_field as source_field,
        nullif(lower(trim(touch_source)), '') as source_value

    from touches
    where channel_mapped_by = 'unmapped'
        or nullif(trim(touch_source), '') is not null

),

unknown_values as (

    select
        touch_values.source_field,
        touch_values.source_value

    from touch_values
    left join channel_mappings
        on
            touch_values.source_field = channel_mappings.source_field
            and touch_values.source_value = channel_mappings.source_value
    where channel_mappings.channel is null

),

counted as (

    select
        source_field,
        source_value,
        count(*) as touches

    from unknown_values
    group by source_field, source_value

)

select * from counted
