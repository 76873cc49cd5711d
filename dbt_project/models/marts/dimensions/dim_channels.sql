-- The channels of seeds/channels.csv as a conformed dimension: every touch, ad row and
-- attribution credit names one of these.
with

channels as (

    select * from {{ ref('channels') }}

),

final as (

    select
        channel,
        channel_name,
        channel_group,
        is_marketing,
        is_paid

    from channels

)

select * from final
