-- Every CRM's deal-contact links, one relation. One row per CRM, deal and contact.
with

unioned as (

    {{ union_conformed(var('crms'), 'crm_deal_contacts', [
        'crm', 'deal_id', 'contact_id',
    ]) }}

),

keyed as (

    select
        crm || ':' || deal_id as crm_deal_key,
        crm || ':' || contact_id as crm_contact_key,
        *

    from unioned

)

select * from keyed
