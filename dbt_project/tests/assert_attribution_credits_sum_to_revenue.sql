-- Every won deal has credits under every attribution model, and per deal and model
-- they sum exactly to its revenue (to the cent; null revenue: every credit null) and
-- their weights to 1. Returns the failing deal-model pairs.
with

won_deals as (

    select * from {{ ref('int_won_deals_classified_by_source') }}

),

credits as (

    select * from {{ ref('attribution_credits') }}

),

attribution_models as (

    select distinct attribution_model from credits

),

per_deal_and_model as (

    select
        attribution_model,
        crm_deal_key,
        sum(credited_revenue) as credited_revenue,
        count(credited_revenue) as credits_with_money,
        sum(credit_weight) as credit_weight

    from credits
    group by 1, 2

),

expected as (

    select
        attribution_models.attribution_model,
        won_deals.crm_deal_key,
        won_deals.revenue

    from won_deals
    cross join attribution_models

),

compared as (

    select
        coalesce(expected.attribution_model, per_deal_and_model.attribution_model)
            as attribution_model,
        coalesce(expected.crm_deal_key, per_deal_and_model.crm_deal_key)
            as crm_deal_key,
        expected.revenue,
        per_deal_and_model.credited_revenue,
        per_deal_and_model.credits_with_money,
        per_deal_and_model.credit_weight

    from expected
    full outer join per_deal_and_model
        on
            expected.attribution_model = per_deal_and_model.attribution_model
            and expected.crm_deal_key = per_deal_and_model.crm_deal_key

)

select * from compared
where
    revenue is distinct from credited_revenue
    or (revenue is null and credits_with_money > 0)
    or credit_weight is null
    or abs(credit_weight - 1) > 1e-9
    or (select count(*) from attribution_models) not in (0, 5)
