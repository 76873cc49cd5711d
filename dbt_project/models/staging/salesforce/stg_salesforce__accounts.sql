-- The account name stops here: it may be a person's name (sole traders), and
-- nothing downstream needs it.
with

source as (

    select * from {{ source('salesforce', 'accounts') }}

),

renamed as (

    select

        ----------  ids
        id as account_id,

        ----------  strings
        billing_country as billing_country_raw,
        nullif(upper(trim(billing_country_code)), '') as billing_country_code,
        upper(trim(currency_iso_code)) as currency_code,

        ----------  booleans
        coalesce(cast(is_deleted as boolean), false) as is_deleted,

        ----------  timestamps
        cast(created_date as {{ type_timestamptz() }}) as created_at,
        cast(system_modstamp as {{ type_timestamptz() }}) as modified_at,
        _loaded_at as loaded_at

    from source

)

select * from renamed
