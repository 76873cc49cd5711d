-- Per region and close month, the won revenue marketing sourced (a marketing touch at
-- or before the deal's creation), sales sourced (none), and marketing influenced (any
-- marketing touch up to the close), with their shares of the won revenue. Every
-- region (and Unassigned when a deal is there) x every month from the first to the
-- last month with a won deal, zero-filled. Deals without an FX rate are counted in
-- the deal counts and unconverted_deals, and left out of every revenue.
with

won_deals as (

    select * from {{ ref('int_won_deals_classified_by_source') }}

),

countries as (

    select * from {{ ref('int_countries_assigned_to_regions') }}

),

regions as (

    select region from countries
    union
    select region from won_deals

),

month_bounds as (

    select
        min(month_start) as first_month,
        max(month_start) as last_month

    from won_deals

),

days as (

    {{ day_series('month_bounds', 'first_month', 'last_month', 'day_date') }}

),

months as (

    select day_date as month_start
    from days
    where extract(day from day_date) = 1

),

region_months as (

    select
        regions.region,
        months.month_start

    from regions
    cross join months

),

deal_measures as (

    select
        region,
        month_start,
        count(*) as won_deals,
        sum(revenue) as won_revenue,
        sum(case when is_marketing_sourced then 1 else 0 end)
            as marketing_sourced_deals,
        sum(case when is_marketing_sourced then revenue end)
            as marketing_sourced_revenue,
        sum(case when not is_marketing_sourced then 1 else 0 end)
            as sales_sourced_deals,
        sum(case when not is_marketing_sourced then revenue end)
            as sales_sourced_revenue,
        sum(case when is_marketing_influenced then 1 else 0 end)
            as marketing_influenced_deals,
        sum(case when is_marketing_influenced then revenue end)
            as marketing_influenced_revenue,
        sum(case when is_unconverted then 1 else 0 end) as unconverted_deals

    from won_deals
    group by region, month_start

),

zero_filled as (

    select
        region_months.region,
        region_months.month_start,
        cast(coalesce(deal_measures.won_deals, 0) as bigint) as won_deals,
        cast(
            coalesce(deal_measures.won_revenue, 0) as decimal(18, 2)
        ) as won_revenue,
        cast(
            coalesce(deal_measures.marketing_sourced_deals, 0) as bigint
        ) as marketing_sourced_deals,
        cast(
            coalesce(deal_measures.marketing_sourced_revenue, 0) as decimal(18, 2)
        ) as marketing_sourced_revenue,
        cast(
            coalesce(deal_measures.sales_sourced_deals, 0) as bigint
        ) as sales_sourced_deals,
        cast(
            coalesce(deal_measures.sales_sourced_revenue, 0) as decimal(18, 2)
        ) as sales_sourced_revenue,
        cast(
            coalesce(deal_measures.marketing_influenced_deals, 0) as bigint
        ) as marketing_influenced_deals,
        cast(
            coalesce(deal_measures.marketing_influenced_revenue, 0)
            as decimal(18, 2)
        ) as marketing_influenced_revenue,
        cast(
            coalesce(deal_measures.unconverted_deals, 0) as bigint
        ) as unconverted_deals

    from region_months
    left join deal_measures
        on
            region_months.region = deal_measures.region
            and region_months.month_start = deal_measures.month_start

),

final as (

    select
        region,
        month_start,
        won_deals,
        won_revenue,
        marketing_sourced_deals,
        marketing_sourced_revenue,
        sales_sourced_deals,
        sales_sourced_revenue,
        marketing_influenced_deals,
        marketing_influenced_revenue,
        cast(
            {{ divide_rounded('marketing_sourced_revenue', 'won_revenue', 4) }}
            as decimal(9, 4)
        ) as marketing_sourced_share,
        cast(
            {{ divide_rounded('sales_sourced_revenue', 'won_revenue', 4) }}
            as decimal(9, 4)
        ) as sales_sourced_share,
        cast(
            {{ divide_rounded('marketing_influenced_revenue', 'won_revenue', 4) }}
            as decimal(9, 4)
        ) as marketing_influenced_share,
        unconverted_deals,
        '{{ var("reporting_currency") }}' as reporting_currency_code

    from zero_filled

)

select * from final
