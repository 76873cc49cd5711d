-- HubSpot records one marketing touch per contact: its original source
-- (hs_analytics_source) and UTM campaign at creation. Conformed to
-- contracts.CRM_CAMPAIGN_TOUCH_CONTRACT. Archived (deleted) contacts touch nothing,
-- as deleted Salesforce campaign members do not. One row per live contact with a
-- source or a campaign.
with

contacts as (

    select * from {{ ref('stg_hubspot__contacts') }}

),

conformed as (

    select
        'hubspot' as crm,
        contact_id || ':original_source' as touch_id,
        contact_id,
        utm_campaign as campaign_name,
        analytics_source as touch_source,
        created_at as touched_at,
        'hubspot_analytics_source' as touch_source_field,
        utm_medium

    from contacts
    where
        not is_archived
        and (analytics_source is not null or utm_campaign is not null)

)

select * from conformed
