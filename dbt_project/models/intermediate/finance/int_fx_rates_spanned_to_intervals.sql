-- Every currency's rates (units per euro) as validity intervals
-- [valid_from, valid_to): a day takes the last rate on or before it, but only
-- for var('fx_max_stale_days') days, so weekends and holidays are covered and a
-- currency the ECB stopped publishing is not converted at a years-old rate.
-- Precedence: the euro is 1 on every day; a former euro-area currency converts
-- at its irrevocable rate from its adoption day on; otherwise the user's
-- override wins over the ECB on the same day.
with

ecb_rates as (

    select * from {{ ref('stg_ecb_fx__rates') }}

),

rate_overrides as (

    select * from {{ ref('stg_ecb_fx__rate_overrides') }}

),

euro_legacy_rates as (

    select * from {{ ref('euro_legacy_conversion_rates') }}

),

published_rates as (

    select currency_code, rate_date, units_per_eur, rate_origin, 2 as precedence
    from ecb_rates
    union all
    select currency_code, rate_date, units_per_eur, rate_origin, 1 as precedence
    from rate_overrides

),

published_rates_ranked as (

    select
        *,
        row_number() over (
            partition by currency_code, rate_date
            order by precedence
        ) as precedence_rank

    from published_rates

),

daily_rates as (

    select
        published_rates_ranked.currency_code,
        published_rates_ranked.rate_date,
        published_rates_ranked.units_per_eur,
        published_rates_ranked.rate_origin,
        euro_legacy_rates.adopted_on as euro_adopted_on

    from published_rates_ranked
    left join euro_legacy_rates
        on published_rates_ranked.currency_code = euro_legacy_rates.currency_code
    where
        published_rates_ranked.precedence_rank = 1
        -- after adoption only the irrevocable rate counts
        and (
            euro_legacy_rates.adopted_on is null
            or published_rates_ranked.rate_date < euro_legacy_rates.adopted_on
        )

),

daily_rates_spanned as (

    select
        currency_code,
        units_per_eur,
        rate_origin,
        rate_date,
        rate_date as valid_from,
        -- until the next rate, the staleness limit, or adoption of the euro
        least(
            coalesce(
                lead(rate_date) over (
                    partition by currency_code order by rate_date
                ),
                cast('9999-12-31' as date)
            ),
            cast(
                {{ dbt.dateadd('day', var('fx_max_stale_days') + 1, 'rate_date') }}
                as date
            ),
            coalesce(euro_adopted_on, cast('9999-12-31' as date))
        ) as valid_to,
        false as is_fixed_rate

    from daily_rates

),

irrevocable_rates as (

    select
        currency_code,
        cast(units_per_eur as decimal(38, 10)) as units_per_eur,
        'euro_conversion' as rate_origin,
        cast(adopted_on as date) as rate_date,
        cast(adopted_on as date) as valid_from,
        cast('9999-12-31' as date) as valid_to,
        true as is_fixed_rate

    from euro_legacy_rates

),

euro as (

    select
        'EUR' as currency_code,
        cast(1 as decimal(38, 10)) as units_per_eur,
        'euro' as rate_origin,
        cast('1999-01-01' as date) as rate_date,
        cast('0001-01-01' as date) as valid_from,
        cast('9999-12-31' as date) as valid_to,
        true as is_fixed_rate

),

unioned as (

    select * from daily_rates_spanned
    union all
    select * from irrevocable_rates
    union all
    select * from euro

),

final as (

    select
        {{ generate_surrogate_key(['currency_code', 'valid_from']) }}
            as fx_rate_interval_id,
        currency_code,
        rate_origin,
        units_per_eur,
        is_fixed_rate,
        rate_date,
        valid_from,
        valid_to

    from unioned

)

select * from final
