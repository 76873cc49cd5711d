-- Ad spend of every platform in the reporting currency. The report day is the ad account's day:
-- it is not shifted. Rates: the last published on or before that day, at most
-- var('fx_max_stale_days') old; none means spend_in_reporting_currency is null
-- and is_fx_converted false (counted in the marts, never guessed). A country
-- code outside ISO 3166-1 (Meta's "unknown", a geo id no table knows) lands in
-- Unassigned.
with

ad_reports as (

    select * from {{ ref('int_ad_reports_unioned') }}

),

countries as (

    select * from {{ ref('int_countries_assigned_to_regions') }}

),

fx_rates as (

    select * from {{ ref('int_fx_rates_spanned_to_intervals') }}

),

ad_reports_with_region as (

    select
        ad_reports.*,
        countries.country_code is not null as is_country_matched,
        coalesce(countries.region, {{ unassigned_region() }}) as region

    from ad_reports
    left join countries
        on ad_reports.country_code = countries.country_code

),

converted as (

    select
        ad_reports_with_region.ad_report_key,
        ad_reports_with_region.ad_platform,
        ad_reports_with_region.account_id,
        ad_reports_with_region.campaign_id,
        ad_reports_with_region.campaign_name,
        ad_reports_with_region.country_code,
        ad_reports_with_region.is_country_matched,
        ad_reports_with_region.region,
        ad_reports_with_region.currency_code,
        '{{ var("reporting_currency") }}' as reporting_currency_code,
        ad_reports_with_region.impressions,
        ad_reports_with_region.reach,
        ad_reports_with_region.clicks,
        ad_reports_with_region.leads,
        ad_reports_with_region.spend as spend_in_account_currency,
        source_rate.units_per_eur as account_currency_units_per_eur,
        reporting_rate.units_per_eur as reporting_currency_units_per_eur,
        {{ convert_currency(
            'ad_reports_with_region.spend',
            'source_rate.units_per_eur',
            'reporting_rate.units_per_eur',
        ) }} as spend_in_reporting_currency,
        source_rate.currency_code is not null
        and reporting_rate.currency_code is not null as is_fx_converted,
        {{ fx_rate_date(
            'source_rate', 'reporting_rate', 'ad_reports_with_region.report_date'
        ) }} as fx_rate_date,
        ad_reports_with_region.report_date

    from ad_reports_with_region
    {{ join_fx_rate(
        'fx_rates', 'source_rate',
        'ad_reports_with_region.currency_code',
        'ad_reports_with_region.report_date'
    ) }}
    {{ join_fx_rate(
        'fx_rates', 'reporting_rate',
        "'" ~ var('reporting_currency') ~ "'",
        'ad_reports_with_region.report_date'
    ) }}

),

final as (

    select
        *,
        coalesce(fx_rate_date < report_date, false) as is_fx_rate_stale

    from converted

)

select * from final
