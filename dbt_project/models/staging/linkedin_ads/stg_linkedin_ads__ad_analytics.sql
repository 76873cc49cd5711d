-- LinkedIn ad analytics renamed and typed: one row per ad account, campaign,
-- member country and report day (UTC). A metric LinkedIn leaves out had no
-- activity and counts as 0.
with

source as (

    select * from {{ source('linkedin_ads', 'ad_analytics') }}

),

renamed as (

    select

        ----------  ids
        {{ generate_surrogate_key([
            'account_id',
            'pivot_campaign',
            'pivot_member_country_v2',
            'date_range_start',
        ]) }} as ad_analytics_id,
        account_id,
        replace(pivot_campaign, 'urn:li:sponsoredCampaign:', '') as campaign_id,

        ----------  strings
        pivot_member_country_v2 as member_country_geo_urn,

        ----------  numerics
        cast(coalesce(impressions, '0') as bigint) as impressions,
        cast(coalesce(clicks, '0') as bigint) as clicks,
        cast(
            coalesce(cost_in_local_currency, '0') as decimal(18, 6)
        ) as cost_in_local_currency,
        cast(coalesce(one_click_leads, '0') as bigint) as one_click_leads,
        cast(
            coalesce(external_website_conversions, '0') as bigint
        ) as external_website_conversions,

        ----------  dates
        cast(date_range_start as date) as report_date,

        ----------  timestamps
        _loaded_at as loaded_at

    from source

)

select * from renamed
