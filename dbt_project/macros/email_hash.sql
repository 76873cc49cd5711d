{#
    Keyed hash of an email address: hex(HMAC-SHA256(key, lower(trim(email)))),
    null for a missing or blank email. The key is a secret that never appears in
    SQL, vars or logs: each adapter reads it from where the deployment keeps it.
#}
{% macro email_hash(column) -%}
    {{ return(adapter.dispatch('email_hash', 'reach2revenue')(column)) }}
{%- endmacro %}

{% macro duckdb__email_hash(column) -%}
    {#- registered by the dbt-duckdb plugin reach2revenue.duckdb_functions, which
        reads the key from R2R_EMAIL_HASH_KEY in dbt's process environment -#}
    r2r_email_hash({{ column }})
{%- endmacro %}

{% macro postgres__email_hash(column) -%}
    {#- pgcrypto's hmac(); the key is a session setting the deployment sets on the
        dbt role (alter role ... set reach2revenue.email_hash_key = '...'), so it
        stays out of the SQL text -#}
    case
        when nullif(trim({{ column }}), '') is not null
            then encode(
                hmac(
                    lower(trim({{ column }})),
                    current_setting('reach2revenue.email_hash_key'),
                    'sha256'
                ),
                'hex'
            )
    end
{%- endmacro %}

{% macro default__email_hash(column) -%}
    {{ exceptions.raise_compiler_error(
        "email_hash(): no keyed hash for adapter " ~ adapter.type()
        ~ "; add <adapter>__email_hash in macros/email_hash.sql"
    ) }}
{%- endmacro %}
