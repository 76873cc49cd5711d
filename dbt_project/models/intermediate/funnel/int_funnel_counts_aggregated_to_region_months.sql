-- The funnel's counts and sums per region and month, every region x every month
-- from the first to the last month with any funnel activity, zeros where nothing
-- happened. Ad rows count in the month of their report day (the ad account's day);
-- CRM instants in the month of their day in var('reporting_timezone'). Deleted
-- people and deals count nowhere.
with

ad_reports as (

    select * from {{ ref('int_ad_reports_converted_to_reporting_currency') }}

),

people as (

    select * from {{ ref('int_contacts_mapped_to_regions') }}

),

deals as (

    select * from {{ ref('int_deals_converted_to_reporting_currency') }}

),

deals_unioned as (

    select * from {{ ref('int_crm_deals_unioned') }}

),

regions as (

    select * from {{ ref('dim_regions') }}

),

dates as (

    select * from {{ ref('dim_dates') }}

),

ad_by_region_month as (

    select
        region,
        cast({{ dbt.date_trunc('month', 'report_date') }} as date) as month_start,
        sum(spend_in_reporting_currency) as spend,
        sum(impressions) as impressions,
        sum(clicks) as clicks,
        sum(
            case
                when not is_fx_converted and spend_in_account_currency is not null
                    then 1
                else 0
            end
        ) as unconverted_spend_rows

    from ad_reports
    group by 1, 2

),

leads_by_region_month as (

    select
        region,
        cast(
            {{ dbt.date_trunc(
                'month', local_date('created_at', var('reporting_timezone'))
            ) }} as date
        ) as month_start,
        count(*) as leads

    from people
    where not is_deleted and created_at is not null
    group by 1, 2

),

live_deals as (

    select
        deals.crm_deal_key,
        deals.crm,
        deals.contact_id,
        deals_unioned.account_id,
        deals.region,
        deals.amount_in_deal_currency,
        deals.amount_in_reporting_currency,
        deals.is_fx_converted,
        deals.is_won,
        deals.is_closed or deals.is_won as is_closed,
        deals.closed_date,
        {{ local_date('deals.created_at', var('reporting_timezone')) }}
            as created_date,
        deals.closed_at,
        deals.created_at

    from deals
    left join deals_unioned
        on deals.crm_deal_key = deals_unioned.crm_deal_key
    where not deals.is_deleted

),

opportunities_by_region_month as (

    select
        region,
        cast({{ dbt.date_trunc('month', 'created_date') }} as date) as month_start,
        count(*) as opportunities

    from live_deals
    where created_date is not null
    group by 1, 2

),

won_deals_ranked as (

    -- A customer is the deal's CRM account, else its primary contact, else (a deal
    -- linked to nobody) the deal itself; its first won deal makes it new.
    select
        crm_deal_key,
        row_number() over (
            partition by
                case
                    when account_id is not null
                        then crm || ':account:' || account_id
                    when contact_id is not null
                        then crm || ':contact:' || contact_id
                    else crm_deal_key
                end
            order by closed_at, crm_deal_key
        ) as customer_won_deal_number

    from live_deals
    where is_won and closed_date is not null

),

closed_by_region_month as (

    select
        live_deals.region,
        cast(
            {{ dbt.date_trunc('month', 'live_deals.closed_date') }} as date
        ) as month_start,
        count(*) as deals_closed,
        sum(case when live_deals.is_won then 1 else 0 end) as deals_won,
        sum(
            case
                when live_deals.is_won then live_deals.amount_in_reporting_currency
            end
        ) as revenue_won,
        sum(
            case
                when
                    live_deals.is_won
                    and live_deals.amount_in_reporting_currency is not null
                    then 1
                else 0
            end
        ) as converted_deals_won,
        sum(
            case
                when
                    live_deals.is_won
                    and not live_deals.is_fx_converted
                    and live_deals.amount_in_deal_currency is not null
                    then 1
                else 0
            end
        ) as unconverted_deals,
        sum(
            case when won_deals_ranked.customer_won_deal_number = 1 then 1 else 0 end
        ) as new_customers,
        sum(
            case
                when live_deals.is_won and live_deals.created_at is not null
                    then {{ dbt.datediff(
                        'live_deals.created_at', 'live_deals.closed_at', 'second'
                    ) }}
                else 0
            end
        ) as sales_cycle_seconds,
        sum(
            case
                when live_deals.is_won and live_deals.created_at is not null
                    then 1
                else 0
            end
        ) as sales_cycle_deals

    from live_deals
    left join won_deals_ranked
        on live_deals.crm_deal_key = won_deals_ranked.crm_deal_key
    where live_deals.is_closed and live_deals.closed_date is not null
    group by 1, 2

),

activity_months as (

    select region, month_start from ad_by_region_month
    union
    select region, month_start from leads_by_region_month
    union
    select region, month_start from opportunities_by_region_month
    union
    select region, month_start from closed_by_region_month

),

month_bounds as (

    select
        min(month_start) as first_month,
        max(month_start) as last_month

    from activity_months

),

calendar_months as (

    select distinct dates.month_start
    from dates
    inner join month_bounds
        on dates.month_start between month_bounds.first_month
        and month_bounds.last_month

),

reporting_regions as (

    -- Unassigned only when something could not be placed.
    select region from regions
    where not is_unassigned
    union
    select region from activity_months

),

region_months as (

    select
        reporting_regions.region,
        calendar_months.month_start

    from reporting_regions
    cross join calendar_months

),

joined as (

    select
        region_months.region,
        region_months.month_start,
        cast(coalesce(ad_by_region_month.spend, 0) as decimal(18, 2)) as spend,
        cast(coalesce(ad_by_region_month.impressions, 0) as bigint) as impressions,
        cast(coalesce(ad_by_region_month.clicks, 0) as bigint) as clicks,
        cast(coalesce(leads_by_region_month.leads, 0) as bigint) as leads,
        cast(
            coalesce(opportunities_by_region_month.opportunities, 0) as bigint
        ) as opportunities,
        cast(
            coalesce(closed_by_region_month.deals_closed, 0) as bigint
        ) as deals_closed,
        cast(coalesce(closed_by_region_month.deals_won, 0) as bigint) as deals_won,
        cast(
            coalesce(closed_by_region_month.revenue_won, 0) as decimal(18, 2)
        ) as revenue_won,
        cast(
            coalesce(closed_by_region_month.converted_deals_won, 0) as bigint
        ) as converted_deals_won,
        cast(
            coalesce(closed_by_region_month.new_customers, 0) as bigint
        ) as new_customers,
        cast(
            coalesce(closed_by_region_month.sales_cycle_seconds, 0) as bigint
        ) as sales_cycle_seconds,
        cast(
            coalesce(closed_by_region_month.sales_cycle_deals, 0) as bigint
        ) as sales_cycle_deals,
        cast(
            coalesce(ad_by_region_month.unconverted_spend_rows, 0) as bigint
        ) as unconverted_spend_rows,
        cast(
            coalesce(closed_by_region_month.unconverted_deals, 0) as bigint
        ) as unconverted_deals

    from region_months
    left join ad_by_region_month
        on
            region_months.region = ad_by_region_month.region
            and region_months.month_start = ad_by_region_month.month_start
    left join leads_by_region_month
        on
            region_months.region = leads_by_region_month.region
            and region_months.month_start = leads_by_region_month.month_start
    left join opportunities_by_region_month
        on
            region_months.region = opportunities_by_region_month.region
            and region_months.month_start
            = opportunities_by_region_month.month_start
    left join closed_by_region_month
        on
            region_months.region = closed_by_region_month.region
            and region_months.month_start = closed_by_region_month.month_start

)

select * from joined
