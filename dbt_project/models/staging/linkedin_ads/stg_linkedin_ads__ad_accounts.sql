-- LinkedIn sponsored ad accounts renamed and typed: above all the currency their
-- cost is reported in. One row per account.
with

source as (

    select * from {{ source('linkedin_ads', 'ad_accounts') }}

),

renamed as (

    select

        ----------  ids
        id as account_id,

        ----------  strings
        name as account_name,
        upper(trim(currency)) as currency_code,
        status as account_status,
        type as account_type,
        reference as organization_urn,

        ----------  booleans
        coalesce(cast(test as boolean), false) as is_test,

        ----------  timestamps
        _loaded_at as loaded_at

    from source

)

select * from renamed
