{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='report_date',
        on_schema_change='fail',
        post_hook=[
            "{{ delete_days_outside_activity(this, 'data_sources') }}",
        ],
    )
}}
-- The product: marketing spend and reach next to won revenue, per region and
-- day, in the reporting currency. Every region x every day between the first and
-- the last day with activity, zeros where nothing happened. Amounts without a
-- usable FX rate are left out of spend and revenue_won and counted instead.
--
-- Incremental: each build deletes and re-inserts whole days. The figures are
-- recomputed from ad_performance_daily (a table) and the won deals (few rows),
-- which is cheap; what is written is the last var('incremental_lookback_days') days
-- plus every older day whose recomputed rows differ from the stored ones: a deal
-- archived or deleted long after it closed, a close date moved (both days differ),
-- a contact's country changed, a region appearing or going (every day differs), the
-- calendar growing. Days that fall outside the activity bounds are deleted by the
-- post-hook. A full refresh builds the same table.
with

ad_reports as (

    select * from {{ ref('ad_performance_daily') }}

),

deals as (

    select * from {{ ref('int_deals_converted_to_reporting_currency') }}

),

countries as (

    select * from {{ ref('int_countries_assigned_to_regions') }}

),

ad_performance_by_region_day as (

    select
        region,
        report_date,
        sum(spend_in_reporting_currency) as spend,
        sum(impressions) as impressions,
        sum(reach) as reach,
        sum(clicks) as clicks,
        sum(leads) as leads,
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

won_deals_by_region_day as (

    select
        region,
        closed_date as report_date,
        count(*) as deals_won,
        sum(amount_in_reporting_currency) as revenue_won,
        sum(
            case
                when not is_fx_converted and amount_in_deal_currency is not null
                    then 1
                else 0
            end
        ) as unconverted_deals

    from deals
    where is_won and not is_deleted
    group by 1, 2

),

sources_by_region_day as (

    select distinct region, report_date, ad_platform as source_name
    from ad_reports
    union
    select distinct region, closed_date as report_date, crm as source_name
    from deals
    where is_won and not is_deleted

),

sources_listed_by_region_day as (

    select
        region,
        report_date,
        {{ dbt.listagg('source_name', "', '", 'order by source_name') }}
            as data_sources

    from sources_by_region_day
    group by 1, 2

),

activity_days as (

    select report_date from ad_performance_by_region_day
    union all
    select report_date from won_deals_by_region_day

),

activity_bounds as (

    select
        min(report_date) as first_date,
        max(report_date) as last_date

    from activity_days

),

calendar_days as (

    {{ day_series('activity_bounds', 'first_date', 'last_date', 'report_date') }}

),

reporting_regions as (

    select region from countries
    union
    -- Unassigned appears only when something could not be placed.
    select region from ad_performance_by_region_day
    union
    select region from won_deals_by_region_day

),

region_days as (

    select
        reporting_regions.region,
        calendar_days.report_date

    from reporting_regions
    cross join calendar_days

),

joined as (

    select
        region_days.region,
        region_days.report_date,
        cast(
            coalesce(ad_performance_by_region_day.spend, 0) as decimal(18, 2)
        ) as spend,
        cast(
            coalesce(ad_performance_by_region_day.impressions, 0) as bigint
        ) as impressions,
        cast(coalesce(ad_performance_by_region_day.reach, 0) as bigint) as reach,
        cast(coalesce(ad_performance_by_region_day.clicks, 0) as bigint) as clicks,
        cast(coalesce(ad_performance_by_region_day.leads, 0) as bigint) as leads,
        cast(coalesce(won_deals_by_region_day.deals_won, 0) as bigint) as deals_won,
        cast(
            coalesce(won_deals_by_region_day.revenue_won, 0) as decimal(18, 2)
        ) as revenue_won,
        cast(
            coalesce(ad_performance_by_region_day.unconverted_spend_rows, 0)
            as bigint
        ) as unconverted_spend_rows,
        cast(
            coalesce(won_deals_by_region_day.unconverted_deals, 0) as bigint
        ) as unconverted_deals,
        sources_listed_by_region_day.data_sources

    from region_days
    left join ad_performance_by_region_day
        on
            region_days.region = ad_performance_by_region_day.region
            and region_days.report_date = ad_performance_by_region_day.report_date
    left join won_deals_by_region_day
        on
            region_days.region = won_deals_by_region_day.region
            and region_days.report_date = won_deals_by_region_day.report_date
    left join sources_listed_by_region_day
        on
            region_days.region = sources_listed_by_region_day.region
            and region_days.report_date = sources_listed_by_region_day.report_date

),

final as (

    select
        region || '|' || cast(report_date as {{ dbt.type_string() }})
            as region_day_id,
        region,
        report_date,
        '{{ var("reporting_currency") }}' as reporting_currency_code,
        spend,
        impressions,
        reach,
        clicks,
        leads,
        deals_won,
        revenue_won,
        {{ divide_rounded('revenue_won', 'spend', 4) }} as roas,
        unconverted_spend_rows,
        unconverted_deals,
        data_sources

    from joined

),

{% if is_incremental() %}

stored as (

    select * from {{ this }}

),

lookback_window as (

    select
        {{ dbt.dateadd(
            'day', -var('incremental_lookback_days'), 'max(report_date)'
        ) }} as first_date

    from final

),

changed_rows as (

    (
        select * from final
        except
        select * from stored
    )
    union all
    (
        select * from stored
        except
        select * from final
    )

),

days_to_rebuild as (

    select final.report_date
    from final
    cross join lookback_window
    where final.report_date > lookback_window.first_date
    union
    select report_date from changed_rows

),

rebuilt as (

    select final.*
    from final
    inner join days_to_rebuild
        on final.report_date = days_to_rebuild.report_date

)

select * from rebuilt

{% else %}

select * from final

{% endif %}
