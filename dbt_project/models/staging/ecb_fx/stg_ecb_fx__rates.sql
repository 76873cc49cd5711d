-- One row per currency and business day: units of the currency per euro, as
-- the ECB publishes them (never inverted).
with

source as (

    select * from {{ source('ecb_fx', 'rates') }}

),

renamed as (

    select

        ----------  ids
        {{ generate_surrogate_key(['currency', 'time_period']) }} as fx_rate_id,

        ----------  strings
        upper(trim(currency)) as currency_code,
        'ecb' as rate_origin,

        ----------  numerics
        cast(obs_value as decimal(38, 10)) as units_per_eur,

        ----------  dates
        cast(time_period as date) as rate_date,

        ----------  timestamps
        _loaded_at as loaded_at

    from source
    where upper(trim(currency_denom)) = 'EUR'

)

select * from renamed
