-- Each rate stays valid until the next rate of the same currency pair: a day
-- without its own rate takes the last known one (valid_to is exclusive, null for
-- the latest rate).
with

fx_rates as (

    select * from {{ ref('fx_rates') }}

),

reporting_currency_rates as (

    select * from fx_rates
    where reporting_currency_code = '{{ var("reporting_currency") }}'

),

spanned as (

    select
        {{ generate_surrogate_key([
            'currency_code',
            'reporting_currency_code',
            'rate_date',
        ]) }} as fx_rate_interval_id,
        currency_code,
        reporting_currency_code,
        cast(rate as decimal(18, 8)) as rate,
        cast(rate_date as date) as valid_from,
        cast(
            lead(rate_date) over (
                partition by currency_code, reporting_currency_code
                order by rate_date
            ) as date
        ) as valid_to

    from reporting_currency_rates

)

select * from spanned
