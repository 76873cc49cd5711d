-- Every marketing touch of a live person, with its channel, campaign, region and
-- time: the touches the attribution and contribution marts read. No personal data.
with

touches as (

    select * from {{ ref('int_marketing_touches_mapped_to_regions') }}

),

final as (

    select
        crm_touch_key,
        crm,
        crm_contact_key,
        channel,
        campaign_name,
        region,
        touched_at,
        touched_date,
        touch_source_field,
        touch_source

    from touches

)

select * from final
