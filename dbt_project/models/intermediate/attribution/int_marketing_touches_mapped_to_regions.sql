-- The marketing touches that count: touches whose channel is marketing, of people
-- (contacts, leads) the CRM still has (not deleted), placed in their person's region.
-- Touches of people the CRMs do not list (not loaded yet) are left out too.
with

touches as (

    select * from {{ ref('int_touches_mapped_to_channels') }}

),

contacts as (

    select * from {{ ref('int_contacts_mapped_to_regions') }}

),

marketing_touches as (

    select
        touches.crm_touch_key,
        touches.crm,
        touches.touch_id,
        touches.crm_contact_key,
        touches.contact_id,
        touches.channel,
        touches.campaign_name,
        contacts.region,
        touches.touch_source_field,
        touches.touch_source,
        touches.utm_medium,
        touches.touched_at,
        {{ local_date('touches.touched_at', var('reporting_timezone')) }}
            as touched_date

    from touches
    inner join contacts
        on touches.crm_contact_key = contacts.crm_contact_key
    where
        touches.is_marketing
        and not contacts.is_deleted

)

select * from marketing_touches
