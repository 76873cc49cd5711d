-- The mart neither loses nor duplicates money or counts: its totals equal those of
-- the converted ad insights and of the won, non-archived deals.
with

mart_totals as (

    select
        sum(spend) as spend,
        sum(impressions) as impressions,
        sum(leads) as leads,
        sum(deals_won) as deals_won,
        sum(revenue_won) as revenue_won

    from {{ ref('region_daily_performance') }}

),

ad_totals as (

    select
        coalesce(sum(spend_in_reporting_currency), 0) as spend,
        coalesce(sum(impressions), 0) as impressions,
        coalesce(sum(leads), 0) as leads

    from {{ ref('int_ad_reports_converted_to_reporting_currency') }}

),

deal_totals as (

    select
        count(*) as deals_won,
        coalesce(sum(amount_in_reporting_currency), 0) as revenue_won

    from {{ ref('int_deals_converted_to_reporting_currency') }}
    where is_won and not is_deleted

),

compared as (

    select
        mart_totals.*,
        ad_totals.spend as expected_spend,
        deal_totals.revenue_won as expected_revenue_won

    from mart_totals
    cross join ad_totals
    cross join deal_totals
    where
        coalesce(mart_totals.spend, 0) != ad_totals.spend
        or coalesce(mart_totals.impressions, 0) != ad_totals.impressions
        or coalesce(mart_totals.leads, 0) != ad_totals.leads
        or coalesce(mart_totals.deals_won, 0) != deal_totals.deals_won
        or coalesce(mart_totals.revenue_won, 0) != deal_totals.revenue_won

)

select * from compared
