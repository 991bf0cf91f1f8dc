-- pg_dump keeps every table and sequence that holds user data.
SELECT pg_catalog.pg_extension_config_dump('@extschema@.account', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.account_account_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.team_member', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.team_member_member_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.nps_response', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.nps_response_response_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.usage_source', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.usage_source_source_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.usage_delta', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.usage_counter', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.usage_user_day', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.usage_feature_counter', '');
