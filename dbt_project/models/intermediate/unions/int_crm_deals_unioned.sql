-- Every CRM's deals and opportunities, one relation. One row per CRM and deal.
with

unioned as (

    {{ union_conformed(var('crms'), 'crm_deals', [
        'crm', 'deal_id', 'currency_code', 'deal_stage', 'amount', 'is_won',
        'is_closed', 'is_deleted', 'closed_at', 'created_at', 'account_id',
    ]) }}

),

keyed as (

    select
        crm || ':' || deal_id as crm_deal_key,
        *

    from unioned

)

select * from keyed
