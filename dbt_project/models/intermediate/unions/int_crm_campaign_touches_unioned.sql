-- Every CRM's marketing touches of its contacts, one relation. One row per CRM and
-- touch.
with

unioned as (

    {{ union_conformed(var('crms'), 'crm_campaign_touches', [
        'crm', 'touch_id', 'contact_id', 'campaign_name', 'touch_source', 'touched_at',
        'touch_source_field', 'utm_medium',
    ]) }}

),

keyed as (

    select
        crm || ':' || touch_id as crm_touch_key,
        crm || ':' || contact_id as crm_contact_key,
        *

    from unioned

)

select * from keyed
