-- csm.health_band gains 'unknown' (a score whose coverage is below the
-- model's min_coverage).  ALTER TYPE ... ADD VALUE would do, but a value
-- added in a transaction cannot be used before it commits, and the rest of
-- this script uses it (the built-in row of csm.health_band_info, the
-- dashboard views).  So the type is made again under its name, with the
-- 0.2.0 values (a type created in this transaction may use them at once),
-- and every 0.1.0 column of it is converted through its text: the values
-- are kept, and health_score, health_history and health_band_info are
-- rewritten.  The functions with the type in their signature are dropped
-- (src/sql creates them again, unchanged); a user's own column of type
-- csm.health_band stops the upgrade at DROP TYPE (convert it the same way
-- first).
DROP FUNCTION @extschema@.explain_health(text);
DROP FUNCTION @extschema@.health_band(float8);
DROP FUNCTION @extschema@.health_components(@extschema@.health_result);
DROP FUNCTION @extschema@.health_components(text[], float8[], float8[], float8[]);
ALTER TYPE @extschema@.health_band RENAME TO health_band_0_1_0;
CREATE TYPE @extschema@.health_band AS ENUM ('green', 'yellow', 'red', 'unknown');
ALTER TYPE @extschema@.health_result ALTER ATTRIBUTE band TYPE @extschema@.health_band;
ALTER TABLE @extschema@.health_band_info
    ALTER COLUMN band TYPE @extschema@.health_band USING band::text::@extschema@.health_band;
ALTER TABLE @extschema@.health_score
    ALTER COLUMN band TYPE @extschema@.health_band USING band::text::@extschema@.health_band;
ALTER TABLE @extschema@.health_history
    ALTER COLUMN band TYPE @extschema@.health_band USING band::text::@extschema@.health_band;
DROP TYPE @extschema@.health_band_0_1_0;
