-- The funnel's ad metrics and won deals, summed over months, equal
-- region_daily_performance's summed over days, per region: the month grid
-- neither drops nor duplicates activity. Rows are the regions that differ.
with

funnel as (

    select * from {{ ref('funnel_by_region_month') }}

),

region_days as (

    select * from {{ ref('region_daily_performance') }}

),

funnel_by_region as (

    select
        region,
        sum(spend) as spend,
        sum(impressions) as impressions,
        sum(clicks) as clicks,
        sum(deals_won) as deals_won,
        sum(revenue_won) as revenue_won

    from funnel
    group by 1

),

region_days_by_region as (

    select
        region,
        sum(spend) as spend,
        sum(impressions) as impressions,
        sum(clicks) as clicks,
        sum(deals_won) as deals_won,
        sum(revenue_won) as revenue_won

    from region_days
    group by 1

),

compared as (

    select
        coalesce(funnel_by_region.region, region_days_by_region.region) as region,
        funnel_by_region.spend as funnel_spend,
        region_days_by_region.spend as region_days_spend,
        funnel_by_region.impressions as funnel_impressions,
        region_days_by_region.impressions as region_days_impressions,
        funnel_by_region.clicks as funnel_clicks,
        region_days_by_region.clicks as region_days_clicks,
        funnel_by_region.deals_won as funnel_deals_won,
        region_days_by_region.deals_won as region_days_deals_won,
        funnel_by_region.revenue_won as funnel_revenue_won,
        region_days_by_region.revenue_won as region_days_revenue_won

    from funnel_by_region
    full outer join region_days_by_region
        on funnel_by_region.region = region_days_by_region.region

),

built_in_this_currency as (

    select 1 as is_comparable
    where
        not exists (
            select 1 from funnel
            where reporting_currency_code != '{{ var("reporting_currency") }}'
        )
        and not exists (
            select 1 from region_days
            where reporting_currency_code != '{{ var("reporting_currency") }}'
        )

),

differences as (

    select compared.*
    from compared
    cross join built_in_this_currency
    where
        coalesce(funnel_spend, 0) != coalesce(region_days_spend, 0)
        or coalesce(funnel_impressions, 0) != coalesce(region_days_impressions, 0)
        or coalesce(funnel_clicks, 0) != coalesce(region_days_clicks, 0)
        or coalesce(funnel_deals_won, 0) != coalesce(region_days_deals_won, 0)
        or coalesce(funnel_revenue_won, 0) != coalesce(region_days_revenue_won, 0)

)

select * from differences
