-- Meta insights conformed to the ad-report contract (contracts.AD_REPORT_CONTRACT):
-- one row per ad account, campaign, report day (account time zone) and country.
with

source as (

    select * from {{ source('meta_ads', 'insights') }}

),

renamed as (

    select

        ----------  ids
        {{ generate_surrogate_key([
            'account_id',
            'campaign_id',
            'date_start',
            'country',
        ]) }} as ad_report_id,
        'meta_ads' as ad_platform,
        account_id,
        campaign_id,

        ----------  strings
        campaign_name,
        upper(trim(country)) as country_code,
        upper(trim(account_currency)) as currency_code,

        ----------  dates
        cast(date_start as date) as report_date,

        ----------  numerics
        cast(impressions as bigint) as impressions,
        cast(reach as bigint) as reach,
        cast(clicks as bigint) as clicks,
        cast(spend as decimal(18, 6)) as spend,
        cast({{ sum_action_values('actions', 'lead') }} as bigint) as leads

    from source

)

select * from renamed
