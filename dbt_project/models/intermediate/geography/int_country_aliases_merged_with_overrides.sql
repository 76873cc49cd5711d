-- Spellings of countries, normalised: the generated aliases (ISO codes,
-- official and common names, CLDR names in the users' languages) and the
-- user's own, which win on the same spelling.
with

country_aliases as (

    select * from {{ ref('country_aliases') }}

),

alias_overrides as (

    select * from {{ ref('country_alias_overrides') }}

),

unioned as (

    select
        {{ normalize_country_alias('country_alias') }} as country_alias,
        upper(trim(country_code)) as country_code,
        'user' as alias_source,
        1 as precedence
    from alias_overrides
    union all
    select
        country_alias,
        country_code,
        alias_source,
        2 as precedence
    from country_aliases

),

ranked as (

    select
        *,
        row_number() over (
            partition by country_alias order by precedence
        ) as precedence_rank

    from unioned
    where country_alias is not null

),

final as (

    select
        country_alias,
        country_code,
        alias_source

    from ranked
    where precedence_rank = 1

)

select * from final
