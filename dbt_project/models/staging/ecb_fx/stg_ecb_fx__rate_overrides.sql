-- The user's own rates (units per euro), for currencies the ECB does not
-- publish or days it should not decide. One row per currency and rate date.
with

source as (

    select * from {{ source('ecb_fx', 'rate_overrides') }}

),

renamed as (

    select

        ----------  ids
        {{ generate_surrogate_key(['currency_code', 'rate_date']) }}
            as fx_rate_override_id,

        ----------  strings
        upper(trim(currency_code)) as currency_code,
        'override' as rate_origin,

        ----------  numerics
        cast(trim(units_per_eur) as decimal(38, 10)) as units_per_eur,

        ----------  dates
        cast(trim(rate_date) as date) as rate_date,

        ----------  timestamps
        _loaded_at as loaded_at

    from source

)

select * from renamed
