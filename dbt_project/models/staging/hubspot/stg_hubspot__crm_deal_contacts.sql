-- HubSpot deal-contact associations conformed to the CRM contract
-- (contracts.CRM_DEAL_CONTACT_CONTRACT). One row per deal and contact.
with

deal_contacts as (

    select * from {{ ref('stg_hubspot__deal_contacts') }}

),

conformed as (

    select
        'hubspot' as crm,
        deal_id,
        contact_id

    from deal_contacts

)

select * from conformed
