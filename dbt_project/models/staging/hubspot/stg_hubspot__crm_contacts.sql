-- HubSpot contacts conformed to the CRM contact contract
-- (contracts.CRM_CONTACT_CONTRACT). One row per contact.
with

contacts as (

    select * from {{ ref('stg_hubspot__contacts') }}

),

conformed as (

    select
        'hubspot' as crm,
        contact_id,
        email_hash,
        country_raw,
        analytics_source,
        utm_source,
        utm_campaign,
        is_archived as is_deleted,
        created_at

    from contacts

)

select * from conformed
