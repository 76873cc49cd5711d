-- Ad spend in the reporting currency at the last known rate on or before the
-- report day. The report day is the ad account's day: it is not shifted.
with

ad_insights as (

    select * from {{ ref('stg_meta_ads__insights') }}

),

countries as (

    select * from {{ ref('countries') }}

),

fx_rates as (

    select * from {{ ref('int_fx_rates_spanned_to_intervals') }}

),

ad_insights_with_region as (

    select
        ad_insights.*,
        coalesce(countries.region, {{ unassigned_region() }}) as region

    from ad_insights
    left join countries
        on ad_insights.country_code = countries.country_code

),

converted as (

    select
        ad_insights_with_region.ad_insight_id,
        ad_insights_with_region.account_id,
        ad_insights_with_region.campaign_id,
        ad_insights_with_region.campaign_name,
        ad_insights_with_region.country_code,
        ad_insights_with_region.region,
        ad_insights_with_region.currency_code,
        '{{ var("reporting_currency") }}' as reporting_currency_code,
        ad_insights_with_region.impressions,
        ad_insights_with_region.reach,
        ad_insights_with_region.clicks,
        ad_insights_with_region.leads,
        ad_insights_with_region.spend as spend_in_account_currency,
        fx_rates.rate as fx_rate,
        {{ to_reporting_currency(
            'ad_insights_with_region.spend', 'fx_rates.rate'
        ) }} as spend_in_reporting_currency,
        ad_insights_with_region.report_date

    from ad_insights_with_region
    left join fx_rates
        on
            ad_insights_with_region.currency_code = fx_rates.currency_code
            and ad_insights_with_region.report_date >= fx_rates.valid_from
            and (
                fx_rates.valid_to is null
                or ad_insights_with_region.report_date < fx_rates.valid_to
            )

)

select * from converted
