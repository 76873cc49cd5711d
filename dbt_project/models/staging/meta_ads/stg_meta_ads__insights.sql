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
        ]) }} as ad_insight_id,
        account_id,
        campaign_id,

        ----------  strings
        campaign_name,
        upper(trim(country)) as country_code,
        upper(trim(account_currency)) as currency_code,

        ----------  numerics
        cast(impressions as bigint) as impressions,
        cast(reach as bigint) as reach,
        cast(clicks as bigint) as clicks,
        cast(spend as decimal(18, 2)) as spend,
        {{ sum_action_values('actions', 'lead') }} as leads,

        ----------  dates
        cast(date_start as date) as report_date,

        ----------  timestamps
        _loaded_at as loaded_at

    from source

)

select * from renamed
