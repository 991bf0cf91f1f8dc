-- A hostile schema, put first on search_path by `make installcheck-hostile`
-- (pg_catalog is still searched before it, as always when it is not
-- listed).  It holds operators and functions for argument types that
-- pg_catalog has no exact match for, so a name resolved on the caller's
-- path would pick one of them over pg_catalog's (an exact match wins over
-- an implicit cast).  Each raises an error: an expression of csm, parsed
-- where it runs without a pinned path, shows up as that error in the
-- second run of the pg_regress suite.
CREATE SCHEMA hostile;

CREATE FUNCTION hostile.fail(what text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'hostile object % was called', what USING ERRCODE = '42501',
        HINT = 'An expression of csm was resolved on the caller''s search_path.';
END $$;

DO $do$
DECLARE
    o record;
    n integer := 0;
BEGIN
    -- Operators: (name, left, right, result).
    FOR o IN SELECT * FROM (VALUES
        -- numeric with integer types, both ways
        ('+', 'numeric', 'integer', 'numeric'), ('-', 'numeric', 'integer', 'numeric'),
        ('*', 'numeric', 'integer', 'numeric'), ('/', 'numeric', 'integer', 'numeric'),
        ('%', 'numeric', 'integer', 'numeric'),
        ('+', 'integer', 'numeric', 'numeric'), ('-', 'integer', 'numeric', 'numeric'),
        ('*', 'integer', 'numeric', 'numeric'), ('/', 'integer', 'numeric', 'numeric'),
        ('+', 'numeric', 'bigint', 'numeric'), ('-', 'numeric', 'bigint', 'numeric'),
        ('*', 'numeric', 'bigint', 'numeric'), ('/', 'numeric', 'bigint', 'numeric'),
        ('+', 'bigint', 'numeric', 'numeric'), ('-', 'bigint', 'numeric', 'numeric'),
        ('*', 'bigint', 'numeric', 'numeric'), ('/', 'bigint', 'numeric', 'numeric'),
        ('=', 'numeric', 'integer', 'boolean'), ('<>', 'numeric', 'integer', 'boolean'),
        ('<', 'numeric', 'integer', 'boolean'), ('<=', 'numeric', 'integer', 'boolean'),
        ('>', 'numeric', 'integer', 'boolean'), ('>=', 'numeric', 'integer', 'boolean'),
        ('=', 'integer', 'numeric', 'boolean'), ('<', 'integer', 'numeric', 'boolean'),
        ('>', 'integer', 'numeric', 'boolean'),
        ('=', 'numeric', 'bigint', 'boolean'), ('>', 'numeric', 'bigint', 'boolean'),
        ('<', 'numeric', 'bigint', 'boolean'),
        -- float8 with numeric and integer types, both ways
        ('+', 'double precision', 'numeric', 'double precision'), ('-', 'double precision', 'numeric', 'double precision'),
        ('*', 'double precision', 'numeric', 'double precision'), ('/', 'double precision', 'numeric', 'double precision'),
        ('+', 'numeric', 'double precision', 'double precision'), ('-', 'numeric', 'double precision', 'double precision'),
        ('*', 'numeric', 'double precision', 'double precision'), ('/', 'numeric', 'double precision', 'double precision'),
        ('<', 'double precision', 'numeric', 'boolean'), ('>', 'double precision', 'numeric', 'boolean'),
        ('<=', 'double precision', 'numeric', 'boolean'), ('>=', 'double precision', 'numeric', 'boolean'),
        ('=', 'double precision', 'numeric', 'boolean'),
        ('<', 'numeric', 'double precision', 'boolean'), ('>', 'numeric', 'double precision', 'boolean'),
        ('+', 'double precision', 'integer', 'double precision'), ('-', 'double precision', 'integer', 'double precision'),
        ('*', 'double precision', 'integer', 'double precision'), ('/', 'double precision', 'integer', 'double precision'),
        ('+', 'integer', 'double precision', 'double precision'), ('-', 'integer', 'double precision', 'double precision'),
        ('*', 'integer', 'double precision', 'double precision'), ('/', 'integer', 'double precision', 'double precision'),
        ('<', 'double precision', 'integer', 'boolean'), ('>', 'double precision', 'integer', 'boolean'),
        ('<=', 'double precision', 'integer', 'boolean'), ('>=', 'double precision', 'integer', 'boolean'),
        ('=', 'double precision', 'integer', 'boolean'),
        ('*', 'double precision', 'bigint', 'double precision'), ('/', 'double precision', 'bigint', 'double precision'),
        ('/', 'bigint', 'double precision', 'double precision'), ('*', 'bigint', 'double precision', 'double precision'),
        ('>', 'double precision', 'bigint', 'boolean'), ('<', 'double precision', 'bigint', 'boolean'),
        -- smallint with numeric
        ('+', 'smallint', 'numeric', 'numeric'), ('*', 'smallint', 'numeric', 'numeric'),
        -- text concatenation with non-text (pg_catalog has only text || anynonarray)
        ('||', 'text', 'integer', 'text'), ('||', 'integer', 'text', 'text'), ('||', 'text', 'bigint', 'text'),
        ('||', 'text', 'numeric', 'text'), ('||', 'text', 'double precision', 'text'),
        ('||', 'text', 'date', 'text'), ('||', 'text', 'timestamp with time zone', 'text'),
        ('||', 'text', 'boolean', 'text'), ('||', 'text', 'jsonb', 'text'),
        -- jsonb subscripts by bigint and smallint
        ('->', 'jsonb', 'bigint', 'jsonb'), ('->>', 'jsonb', 'bigint', 'text'),
        ('->', 'jsonb', 'smallint', 'jsonb'), ('->>', 'jsonb', 'smallint', 'text'),
        -- dates and times
        ('-', 'date', 'bigint', 'date'), ('+', 'date', 'bigint', 'date'),
        ('-', 'timestamp with time zone', 'date', 'interval'), ('-', 'date', 'timestamp with time zone', 'interval'),
        ('<', 'timestamp with time zone', 'date', 'boolean'), ('>=', 'timestamp with time zone', 'date', 'boolean'),
        ('*', 'interval', 'integer', 'interval'), ('*', 'integer', 'interval', 'interval'),
        ('*', 'interval', 'numeric', 'interval'), ('/', 'interval', 'integer', 'interval'),
        -- arrays of a concrete type (pg_catalog has anyarray operators only)
        ('&&', 'text[]', 'text[]', 'boolean'), ('@>', 'text[]', 'text[]', 'boolean'),
        ('<@', 'text[]', 'text[]', 'boolean'), ('||', 'text[]', 'text[]', 'text[]'),
        ('||', 'text[]', 'text', 'text[]'), ('&&', 'bigint[]', 'bigint[]', 'boolean'),
        ('=', 'text[]', 'text[]', 'boolean'), ('||', 'double precision[]', 'double precision[]', 'double precision[]'),
        -- varchar (pg_catalog compares it as text)
        ('=', 'character varying', 'character varying', 'boolean'), ('=', 'character varying', 'text', 'boolean'))
        AS v(op, l, r, ret) LOOP
        n := n + 1;
        EXECUTE format('CREATE FUNCTION hostile.op_%s(%s, %s) RETURNS %s LANGUAGE plpgsql AS %L',
                       n, o.l, o.r, o.ret,
                       format('BEGIN PERFORM hostile.fail(%L); RETURN NULL; END',
                              format('operator %s(%s, %s)', o.op, o.l, o.r)));
        EXECUTE format('CREATE OPERATOR hostile.%s (LEFTARG = %s, RIGHTARG = %s, FUNCTION = hostile.op_%s)',
                       o.op, o.l, o.r, n);
    END LOOP;

    -- Functions: (name, arguments, result), each shadowing a pg_catalog
    -- function that takes a wider or polymorphic type.
    FOR o IN SELECT * FROM (VALUES
        ('lower', 'character varying', 'text'), ('upper', 'character varying', 'text'),
        ('length', 'character varying', 'integer'), ('btrim', 'character varying', 'text'),
        ('ln', 'integer', 'double precision'), ('ln', 'bigint', 'double precision'),
        ('exp', 'integer', 'double precision'), ('sqrt', 'integer', 'double precision'),
        ('abs', 'numeric, integer', 'numeric'),
        ('round', 'double precision, integer', 'double precision'),
        ('format', 'text, text', 'text'), ('format', 'text, integer', 'text'), ('format', 'text, bigint', 'text'),
        ('format', 'text, text, text', 'text'),
        ('unnest', 'text[]', 'SETOF text'), ('unnest', 'bigint[]', 'SETOF bigint'),
        ('unnest', 'double precision[]', 'SETOF double precision'),
        ('cardinality', 'text[]', 'integer'), ('cardinality', 'bigint[]', 'integer'),
        ('array_length', 'text[], integer', 'integer'), ('array_position', 'text[], text', 'integer'),
        ('array_append', 'text[], text', 'text[]'), ('array_cat', 'text[], text[]', 'text[]'),
        ('to_jsonb', 'text', 'jsonb'), ('to_jsonb', 'double precision', 'jsonb'), ('to_jsonb', 'bigint', 'jsonb'),
        ('jsonb_build_object', 'text, text', 'jsonb'), ('jsonb_build_object', 'text, double precision', 'jsonb'),
        ('jsonb_build_array', 'text', 'jsonb'),
        ('date_trunc', 'text, date', 'timestamp with time zone'))
        AS v(name, args, ret) LOOP
        EXECUTE format('CREATE FUNCTION hostile.%I(%s) RETURNS %s LANGUAGE plpgsql AS %L',
                       o.name, o.args, o.ret,
                       format('BEGIN PERFORM hostile.fail(%L); RETURN%s; END',
                              format('function %s(%s)', o.name, o.args),
                              CASE WHEN o.ret LIKE 'SETOF%' THEN '' ELSE ' NULL' END));
    END LOOP;
END $do$;

-- Aggregates over a concrete type (pg_catalog's take anyelement/anynonarray).
CREATE FUNCTION hostile.agg_text(text[], text) RETURNS text[] LANGUAGE plpgsql AS
    $$BEGIN PERFORM hostile.fail('aggregate over text'); RETURN NULL; END$$;
CREATE FUNCTION hostile.agg_bigint(bigint[], bigint) RETURNS bigint[] LANGUAGE plpgsql AS
    $$BEGIN PERFORM hostile.fail('aggregate over bigint'); RETURN NULL; END$$;
CREATE FUNCTION hostile.agg_float8(double precision[], double precision) RETURNS double precision[] LANGUAGE plpgsql AS
    $$BEGIN PERFORM hostile.fail('aggregate over double precision'); RETURN NULL; END$$;
CREATE AGGREGATE hostile.array_agg(text) (SFUNC = hostile.agg_text, STYPE = text[]);
CREATE AGGREGATE hostile.array_agg(bigint) (SFUNC = hostile.agg_bigint, STYPE = bigint[]);
CREATE AGGREGATE hostile.array_agg(double precision) (SFUNC = hostile.agg_float8, STYPE = double precision[]);
CREATE AGGREGATE hostile.jsonb_agg(text) (SFUNC = hostile.agg_text, STYPE = text[]);
CREATE AGGREGATE hostile.jsonb_agg(double precision) (SFUNC = hostile.agg_float8, STYPE = double precision[]);

GRANT USAGE ON SCHEMA hostile TO PUBLIC;
