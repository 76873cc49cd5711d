-- Google Ads geographic rows conformed to the ad-report contract
-- (contracts.AD_REPORT_CONTRACT): one row per customer, campaign, report day
-- (customer time zone) and country. The country criterion id becomes ISO-2
-- through Google's geo target table; an id it does not know gives a null
-- country, which lands in Unassigned.
with

geographic_views as (

    select * from {{ ref('stg_google_ads__geographic_views') }}

),

geo_targets as (

    select * from {{ ref('google_ads_geo_targets') }}

),

countries as (

    select
        "Criteria ID" as country_criterion_id,
        upper(trim("Country Code")) as country_code
    from geo_targets
    where "Target Type" = 'Country'

),

conformed as (

    select

        ----------  ids
        geographic_views.geographic_view_id as ad_report_id,
        'google_ads' as ad_platform,
        geographic_views.customer_id as account_id,
        geographic_views.campaign_id,

        ----------  strings
        geographic_views.campaign_name,
        countries.country_code,
        geographic_views.currency_code,

        ----------  dates
        geographic_views.report_date,

        ----------  numerics
        geographic_views.impressions,
        -- Google reports no unique reach in this report
        cast(null as bigint) as reach,
        geographic_views.clicks,
        geographic_views.spend,
        -- conversions rounded half away from zero: Google's conversions are
        -- the platform's leads, split fractionally by data-driven attribution
        coalesce(
            cast(round(geographic_views.conversions) as bigint), 0
        ) as leads

    from geographic_views
    left join countries
        on
            geographic_views.country_criterion_id
            = countries.country_criterion_id

)

select * from conformed
