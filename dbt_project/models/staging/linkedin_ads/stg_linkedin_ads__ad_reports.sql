-- LinkedIn ad analytics conformed to the ad-report contract
-- (contracts.AD_REPORT_CONTRACT): one row per ad account, campaign, report day
-- (UTC) and member country. The analytics carry only URNs, so campaign names and
-- the account currency are joined from their own staging models; the member
-- country's geo URN becomes ISO-2 through seeds/linkedin_geo_countries.csv. A geo
-- id the seed does not know keeps its URN as country_code, so it lands in
-- Unassigned and data_quality_unmapped_countries lists it for the seed.
-- reach is null: approximateMemberReach is not available with the member-country
-- pivot.
with

ad_analytics as (

    select * from {{ ref('stg_linkedin_ads__ad_analytics') }}

),

campaigns as (

    select * from {{ ref('stg_linkedin_ads__campaigns') }}

),

ad_accounts as (

    select * from {{ ref('stg_linkedin_ads__ad_accounts') }}

),

geo_countries as (

    select * from {{ ref('linkedin_geo_countries') }}

),

conformed as (

    select
        ad_analytics.ad_analytics_id as ad_report_id,
        'linkedin_ads' as ad_platform,
        ad_analytics.account_id,
        ad_analytics.campaign_id,
        campaigns.campaign_name,
        coalesce(
            geo_countries.country_code, ad_analytics.member_country_geo_urn
        ) as country_code,
        ad_accounts.currency_code,
        ad_analytics.report_date,
        ad_analytics.impressions,
        cast(null as bigint) as reach,
        ad_analytics.clicks,
        ad_analytics.cost_in_local_currency as spend,
        ad_analytics.one_click_leads as leads

    from ad_analytics
    left join campaigns
        on ad_analytics.campaign_id = campaigns.campaign_id
    left join ad_accounts
        on ad_analytics.account_id = ad_accounts.account_id
    left join geo_countries
        on ad_analytics.member_country_geo_urn = geo_countries.geo_urn

)

select * from conformed
