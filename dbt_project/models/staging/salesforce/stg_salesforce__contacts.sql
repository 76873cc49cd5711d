-- email, first_name and last_name stop here: only a hash of the normalised email
-- leaves staging, keyed (macro email_hash: HMAC-SHA256 with a secret key).
-- A table, not a view: the key exists only while dbt builds, so a view would
-- fail in every other reader of the warehouse.
{{ config(materialized='table') }}

with

source as (

    select * from {{ source('salesforce', 'contacts') }}

),

renamed as (

    select

        ----------  ids
        id as contact_id,
        account_id,
        {{ email_hash('email') }} as email_hash,

        ----------  strings
        mailing_country as mailing_country_raw,
        lead_source,

        ----------  booleans
        coalesce(cast(is_deleted as boolean), false) as is_deleted,

        ----------  timestamps
        cast(created_date as {{ type_timestamptz() }}) as created_at,
        cast(system_modstamp as {{ type_timestamptz() }}) as modified_at,
        _loaded_at as loaded_at

    from source

)

select * from renamed
