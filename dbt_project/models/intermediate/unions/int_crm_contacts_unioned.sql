-- Every CRM's people (contacts, leads), one relation, without the email hash: nothing
-- personal goes past staging. One row per CRM and contact.
with

unioned as (

    {{ union_conformed(var('crms'), 'crm_contacts', [
        'crm', 'contact_id', 'country_raw', 'analytics_source',
        'utm_source', 'utm_campaign', 'is_deleted', 'created_at',
    ]) }}

),

keyed as (

    select
        crm || ':' || contact_id as crm_contact_key,
        *

    from unioned

)

select * from keyed
