-- Every CRM touch with its channel (seeds/channel_mappings.csv, compared after
-- lower(trim())): the utm_medium mapping when the touch has a mapped UTM medium, else
-- the mapping of its touch_source_field and touch_source, else 'unmapped' (listed in
-- data_quality_unmapped_channels). A touch is marketing when its channel is.
with

touches as (

    select * from {{ ref('int_crm_campaign_touches_unioned') }}

),

channel_mappings as (

    select * from {{ ref('channel_mappings') }}

),

channels as (

    select * from {{ ref('channels') }}

),

touches_normalised as (

    select
        *,
        nullif(lower(trim(utm_medium)), '') as utm_medium_value,
        nullif(lower(trim(touch_source)), '') as touch_source_value

    from touches

),

mapped as (

    select
        touches_normalised.crm_touch_key,
        touches_normalised.crm_contact_key,
        touches_normalised.crm,
        touches_normalised.touch_id,
        touches_normalised.contact_id,
        touches_normalised.campaign_name,
        touches_normalised.touch_source_field,
        touches_normalised.touch_source,
        touches_normalised.utm_medium,
        case
            when utm_mappings.channel is not null then 'utm_medium'
            when source_mappings.channel is not null then 'touch_source'
            else 'unmapped'
        end as channel_mapped_by,
        coalesce(
            utm_mappings.channel, source_mappings.channel, 'unmapped'
        ) as channel,
        touches_normalised.touched_at

    from touches_normalised
    left join channel_mappings as utm_mappings
        on
            utm_mappings.source_field = 'utm_medium'
            and touches_normalised.utm_medium_value = utm_mappings.source_value
    left join channel_mappings as source_mappings
        on
            touches_normalised.touch_source_field = source_mappings.source_field
            and touches_normalised.touch_source_value = source_mappings.source_value

),

with_channel as (

    select
        mapped.crm_touch_key,
        mapped.crm_contact_key,
        mapped.crm,
        mapped.touch_id,
        mapped.contact_id,
        mapped.campaign_name,
        mapped.touch_source_field,
        mapped.touch_source,
        mapped.utm_medium,
        mapped.channel_mapped_by,
        mapped.channel,
        coalesce(channels.is_marketing, false) as is_marketing,
        mapped.touched_at

    from mapped
    left join channels
        on mapped.channel = channels.channel

)

select * from with_channel
