-- var('marketing_mix_media_channels'), the columns marketing_mix_geo_weekly pivots,
-- lists exactly the channels the ad platforms map to in seeds/channel_mappings.csv.
-- Rows: a channel missing from one side (its spend would vanish from the pivot, or
-- a pivot column would stay empty).
with

channel_mappings as (

    select * from {{ ref('channel_mappings') }}

),

mapped_channels as (

    select distinct channel
    from channel_mappings
    where source_field = 'ad_platform'

),

pivot_channels as (

    {%- for channel in var('marketing_mix_media_channels') %}
    select '{{ channel }}' as channel
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}

),

differences as (

    select
        coalesce(mapped_channels.channel, pivot_channels.channel) as channel,
        mapped_channels.channel is not null as is_in_channel_mappings,
        pivot_channels.channel is not null as is_in_pivot_var

    from mapped_channels
    full outer join pivot_channels
        on mapped_channels.channel = pivot_channels.channel
    where mapped_channels.channel is null or pivot_channels.channel is null

)

select * from differences
