-- Google Ads geographic_view rows renamed and typed: one row per customer,
-- campaign, report day (customer time zone) and country criterion.
with

source as (

    select * from {{ source('google_ads', 'geographic_view') }}

),

renamed as (

    select

        ----------  ids
        {{ generate_surrogate_key([
            'customer_id',
            'campaign_id',
            'segments_date',
            'geographic_view_country_criterion_id',
        ]) }} as geographic_view_id,
        customer_id,
        campaign_id,
        geographic_view_country_criterion_id as country_criterion_id,

        ----------  strings
        campaign_name,
        upper(trim(customer_currency_code)) as currency_code,
        customer_time_zone as time_zone,
        geographic_view_location_type as location_type,

        ----------  numerics
        cast(metrics_impressions as bigint) as impressions,
        cast(metrics_clicks as bigint) as clicks,
        cast(metrics_cost_micros as bigint) as cost_micros,
        -- micros to currency units, exact: a decimal multiplication, not a
        -- division (which would go through double)
        cast(
            cast(metrics_cost_micros as decimal(24, 0)) * 0.000001
            as decimal(18, 6)
        ) as spend,
        cast(metrics_conversions as decimal(38, 12)) as conversions,

        ----------  dates
        cast(segments_date as date) as report_date,

        ----------  timestamps
        _loaded_at as loaded_at

    from source

)

select * from renamed
