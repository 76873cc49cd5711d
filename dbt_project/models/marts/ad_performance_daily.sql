{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='report_date',
        on_schema_change='fail',
        post_hook=[
            "{{ delete_days_missing_from(this, ref('int_ad_reports_unioned')) }}",
        ],
    )
}}
-- depends_on: {{ ref('int_ad_reports_unioned') }}
-- depends_on: {{ ref('int_countries_assigned_to_regions') }}
-- Ad performance at the platforms' own grain, in the account currency and the
-- reporting currency: the drill-down under region_daily_performance.
--
-- Incremental: each build deletes and re-inserts whole report days. It rebuilds
-- the last var('incremental_lookback_days') days (the platforms restate up to 28-30
-- days back) and any older day whose rows in the warehouse no longer match what is
-- stored here (row count or totals differ: a backfill, a late load, rows gone), or
-- whose stored rows the current reference data or vars would build differently (no
-- rate then, a rate too old now, another reporting currency, a country now in
-- another region).
-- A day left without any source row is deleted by the post-hook. A full refresh
-- builds the same table.
with

ad_reports as (

    select * from {{ ref('int_ad_reports_converted_to_reporting_currency') }}

),

{% if is_incremental() %}

source_ad_reports as (

    select * from {{ ref('int_ad_reports_unioned') }}

),

stored_ad_reports as (

    select * from {{ this }}

),

source_days as (

    select
        report_date,
        count(*) as row_count,
        sum(spend) as spend,
        sum(impressions) as impressions,
        sum(reach) as reach,
        sum(clicks) as clicks,
        sum(leads) as leads

    from source_ad_reports
    group by 1

),

stored_days as (

    select
        report_date,
        count(*) as row_count,
        sum(spend_in_account_currency) as spend,
        sum(impressions) as impressions,
        sum(reach) as reach,
        sum(clicks) as clicks,
        sum(leads) as leads

    from stored_ad_reports
    group by 1

),

lookback_window as (

    select
        {{ dbt.dateadd(
            'day', -var('incremental_lookback_days'), 'max(report_date)'
        ) }} as first_date

    from source_days

),

days_in_lookback_window as (

    select source_days.report_date
    from source_days
    cross join lookback_window
    where source_days.report_date > lookback_window.first_date

),

days_changed_in_source as (

    select source_days.report_date
    from source_days
    left join stored_days
        on source_days.report_date = stored_days.report_date
    where
        stored_days.report_date is null
        or source_days.row_count != stored_days.row_count
        or coalesce(source_days.spend, 0) != coalesce(stored_days.spend, 0)
        or coalesce(source_days.impressions, 0)
        != coalesce(stored_days.impressions, 0)
        or coalesce(source_days.reach, 0) != coalesce(stored_days.reach, 0)
        or coalesce(source_days.clicks, 0) != coalesce(stored_days.clicks, 0)
        or coalesce(source_days.leads, 0) != coalesce(stored_days.leads, 0)

),

countries as (

    select * from {{ ref('int_countries_assigned_to_regions') }}

),

days_with_outdated_rows as (

    -- rows the current reference data or vars would build differently
    select distinct stored_ad_reports.report_date
    from stored_ad_reports
    left join countries
        on stored_ad_reports.country_code = countries.country_code
    where
        -- a rate may have arrived since (FX override file)
        (
            not stored_ad_reports.is_fx_converted
            and stored_ad_reports.spend_in_account_currency is not null
        )
        -- the reporting currency changed
        or stored_ad_reports.reporting_currency_code
        != '{{ var("reporting_currency") }}'
        -- fx_max_stale_days was lowered
        or stored_ad_reports.fx_rate_date < {{ dbt.dateadd(
            'day', -var('fx_max_stale_days'), 'stored_ad_reports.report_date'
        ) }}
        -- the country map changed (aliases, region overrides)
        or stored_ad_reports.region
        != coalesce(countries.region, {{ unassigned_region() }})

),

days_to_rebuild as (

    select report_date from days_in_lookback_window
    union
    select report_date from days_changed_in_source
    union
    select report_date from days_with_outdated_rows

),

ad_reports_to_build as (

    select ad_reports.*
    from ad_reports
    inner join days_to_rebuild
        on ad_reports.report_date = days_to_rebuild.report_date

),

{% else %}

ad_reports_to_build as (

    select * from ad_reports

),

{% endif %}

final as (

    select
        ad_report_key,
        ad_platform,
        account_id,
        campaign_id,
        campaign_name,
        country_code,
        region,
        report_date,
        currency_code as account_currency_code,
        reporting_currency_code,
        cast(spend_in_account_currency as decimal(18, 6))
            as spend_in_account_currency,
        cast(spend_in_reporting_currency as decimal(18, 2))
            as spend_in_reporting_currency,
        is_fx_converted,
        fx_rate_date,
        is_fx_rate_stale,
        cast(impressions as bigint) as impressions,
        cast(reach as bigint) as reach,
        cast(clicks as bigint) as clicks,
        cast(leads as bigint) as leads

    from ad_reports_to_build

)

select * from final
