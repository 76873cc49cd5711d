-- email, first_name and last_name stop here: only a hash of the normalised email
-- leaves staging, keyed (macro email_hash: HMAC-SHA256 with a secret key).
-- A table, not a view: the key exists only while dbt builds, so a view would
-- fail in every other reader of the warehouse.
{{ config(materialized='table') }}

with

source as (

    select * from {{ source('salesforce', 'leads') }}

),

renamed as (

    select

        ----------  ids
        id as lead_id,
        converted_account_id,
        converted_contact_id,
        converted_opportunity_id,
        {{ email_hash('email') }} as email_hash,

        ----------  strings
        country as country_raw,
        lead_source,
        status as lead_status,

        ----------  booleans
        coalesce(cast(is_converted as boolean), false) as is_converted,
        coalesce(cast(is_deleted as boolean), false) as is_deleted,

        ----------  dates
        cast(nullif(trim(converted_date), '') as date) as converted_date,

        ----------  timestamps
        cast(created_date as {{ type_timestamptz() }}) as created_at,
        cast(system_modstamp as {{ type_timestamptz() }}) as modified_at,
        _loaded_at as loaded_at

    from source

)

select * from renamed
