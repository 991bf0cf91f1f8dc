# csm: PGXS build.  `make test` and `make demo` are the two entry points a
# person needs; both install their own prerequisites (test/deps.sh).

EXTENSION  = csm
EXTVERSION = 0.2.0
PG_MAJOR  ?= 15

MODULE_big = csm
# Every C file in src/ is part of the module.
OBJS = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c)))

# The install script is built from src/sql (README, "Source layout"): first
# 00_pre/ (the header, the schemas, and what table definitions call), then
# every feature's install-only tables*.sql (types, tables, indexes,
# constraints, the pg_extension_config_dump list), then every other file of
# src/sql/*/, re-runnable (CREATE OR REPLACE: functions, views, triggers,
# grants, built-in rows); each group in path order.
SQL_PRE     = $(sort $(wildcard src/sql/00_pre/*.sql))
SQL_TABLES  = $(sort $(wildcard src/sql/*/tables*.sql))
SQL_REPLACE = $(sort $(filter-out $(SQL_PRE) $(SQL_TABLES),$(wildcard src/sql/*/*.sql)))
SQL_PARTS   = $(SQL_PRE) $(SQL_TABLES) $(SQL_REPLACE)
# Released install scripts are frozen as released (src/updates/csm--A.sql,
# never edited).  Every directory src/updates/A--B/ makes the upgrade script
# csm--A--B.sql: its own steps (*.sql, in file-name order), which change the
# install-only objects explicitly (ALTER TABLE, CREATE TABLE, ...), then
# 00_pre/ and every re-runnable file, so that a fixed function needs no
# upgrade step, then the steps of its after/ (what needs objects the
# re-runnable files create, such as a column default calling a new
# function).  A new release needs a directory, not a rule here.
#
# Except from a release older than this layout (0.1.0, whose src/sql was one
# flat list): its upgrade also runs the tables*.sql files, every statement of
# which is re-runnable (IF NOT EXISTS, guarded DO blocks) and creates the
# many tables 0.2.0 adds.  test/shell/upgrade.sh walks every path.
UPDATE_DIRS        = $(patsubst src/updates/%/,%,$(sort $(dir $(wildcard src/updates/*--*/*.sql))))
UPDATE_WITH_TABLES = 0.1.0--0.2.0
define update_script
csm--$(1).sql: $(sort $(wildcard src/updates/$(1)/*.sql)) $(SQL_PRE) $(if $(filter $(1),$(UPDATE_WITH_TABLES)),$(SQL_TABLES)) $(SQL_REPLACE) $(sort $(wildcard src/updates/$(1)/after/*.sql))
	cat $$^ > $$@
endef
DATA_built = csm--$(EXTVERSION).sql $(patsubst %,csm--%.sql,$(UPDATE_DIRS))
DATA       = $(sort $(wildcard src/updates/csm--*.sql))

REGRESS      = $(patsubst sql/%.sql,%,$(sort $(wildcard sql/*.sql)))
REGRESS_OPTS = --inputdir=. --load-extension=csm
ISOLATION      = $(patsubst test/isolation/specs/%.spec,%,$(sort $(wildcard test/isolation/specs/*.spec)))
ISOLATION_OPTS = --inputdir=test/isolation --load-extension=csm

# -fno-semantic-interposition lets calls between csm's own files skip the PLT.
PG_CFLAGS = -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers -fno-semantic-interposition
EXTRA_CLEAN = output_iso output_hostile output_upgraded output_citus results regression.diffs regression.out

# Prefer the server-dev package's pg_config for the chosen major version.
PG_CONFIG ?= $(firstword $(wildcard /usr/lib/postgresql/$(PG_MAJOR)/bin/pg_config) pg_config)
PGXS := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)
# On a fresh machine pg_config (postgresql-client) names a pgxs.mk that is not
# there yet: `make test` and `make demo` then install it (deps) before their
# `$(MAKE) install` reads it.
ifneq ($(wildcard $(PGXS)),)
include $(PGXS)
else
all install installcheck:
	@echo "csm: PGXS not found (pg_config: $(PG_CONFIG)); make deps installs postgresql-server-dev-$(PG_MAJOR)" >&2; exit 1
endif

# PGXS does not track headers; every object depends on csm's own.
$(OBJS): $(wildcard src/*.h)

csm--$(EXTVERSION).sql: $(SQL_PARTS)
	cat $^ > $@

$(foreach u,$(UPDATE_DIRS),$(eval $(call update_script,$(u))))

.PHONY: deps test demo bench valgrind
deps:
	@test/deps.sh

# pg_cron is preloaded for the README's cron examples, which
# test/shell/readme.sh runs in database csm_readme, and for
# test/shell/cron_jobs.sh, which lets it run csm's jobs (in background
# workers: no connection settings needed).
test: deps
	$(MAKE) install
	PG_MAJOR=$(PG_MAJOR) pg_virtualenv -t -v $(PG_MAJOR) -o shared_preload_libraries=pg_cron \
		-o cron.database_name=csm_readme -o cron.use_background_workers=on test/run.sh

demo: deps
	$(MAKE) install
	PG_MAJOR=$(PG_MAJOR) pg_virtualenv -t -v $(PG_MAJOR) test/demo.sh

valgrind: deps
	$(MAKE) install
	PG_MAJOR=$(PG_MAJOR) test/valgrind.sh

bench: deps
	$(MAKE) install
	PG_MAJOR=$(PG_MAJOR) pg_virtualenv -t -v $(PG_MAJOR) sh -c 'test/bench/run.sh && test/bench/health.sh && test/bench/assign.sh && test/bench/churn.sh && test/bench/lifecycle.sh && test/bench/revenue.sh && test/bench/renewal.sh && test/bench/segment.sh && test/bench/nps.sh && test/bench/expansion.sh && test/bench/success_plan.sh && test/bench/alert.sh && test/bench/playbook.sh && test/bench/support.sh && test/bench/reads.sh && test/bench/rls.sh && test/bench/progress.sh'

# The reference dashboard (dashboards/): built with Observable Framework from
# the demo database, then every page checked in headless Chromium and the
# Grafana JSON's SQL run (dashboards/make.sh).
.PHONY: dashboards test-dashboards
dashboards: deps
	$(MAKE) install
	PG_MAJOR=$(PG_MAJOR) dashboards/make.sh build

test-dashboards: deps
	$(MAKE) install
	PG_MAJOR=$(PG_MAJOR) dashboards/make.sh test

# csm on a 3-node Citus cluster (a coordinator and two workers on 127.0.0.1,
# started and stopped by the script). Citus must be installed: see
# test/citus/run.sh and ../shared/citus/install.sh.
.PHONY: test-citus bench-citus
test-citus: deps
	$(MAKE) install
	PG_MAJOR=$(PG_MAJOR) PG_CONFIG=$(PG_CONFIG) test/citus/run.sh

# Every test/bench/citus_*.sh, each on a throwaway cluster of its own.
bench-citus: deps
	$(MAKE) install
	for b in $(sort $(wildcard test/bench/citus_*.sh)); do PG_MAJOR=$(PG_MAJOR) PG_CONFIG=$(PG_CONFIG) $$b || exit 1; done

# Packages.  DISTVERSION is the release being packaged: META.json's version
# and debian/changelog's upstream version (test/shell/dist.sh checks that
# they agree).  EXTVERSION is the extension's own, its install script's and
# META.json's provides.
DISTVERSION = 0.2.0
.PHONY: dist deb test-deb

# PGXN: the committed tree (HEAD) as dist/csm-$(DISTVERSION).zip.
dist:
	@mkdir -p dist
	git archive --format zip --prefix=csm-$(DISTVERSION)/ --output dist/csm-$(DISTVERSION).zip HEAD
	@echo "csm: dist/csm-$(DISTVERSION).zip"

# Debian: the committed tree built with pg_buildext (debian/) into
# dist/postgresql-15-csm_$(DISTVERSION)-1_amd64.deb; test-deb installs that
# .deb in place of make install (into a copy of PostgreSQL 15, never the
# machine's own) and runs the whole suite against it.
deb:
	PG_MAJOR=$(PG_MAJOR) test/deb.sh build $(DISTVERSION)

test-deb: deps deb
	PG_MAJOR=$(PG_MAJOR) test/deb.sh test $(DISTVERSION)

# csm built (not run) against the server headers of PostgreSQL 17 and 18
# from Debian's archive, with -Werror: test/versions.sh.
.PHONY: build-versions
build-versions:
	test/versions.sh

# The pg_regress suite a second time, with a hostile schema first on
# search_path (test/hostile/schema.sql: operators and functions for the
# argument types pg_catalog has no exact match for, each raising an error),
# so that anything csm resolves on the caller's path fails a test.  Same
# expected files; results in output_hostile/.  The database is made as
# pg_regress makes its own, then the path is set on it.
HOSTILE_DB = csm_hostile_regression
.PHONY: installcheck-hostile
installcheck-hostile:
	'$(bindir)/dropdb' --if-exists $(HOSTILE_DB)
	'$(bindir)/createdb' --template=template0 $(HOSTILE_DB)
	'$(bindir)/psql' -qX -v ON_ERROR_STOP=1 -d $(HOSTILE_DB) -f test/hostile/schema.sql \
		-c "ALTER DATABASE $(HOSTILE_DB) SET lc_messages TO 'C'" -c "ALTER DATABASE $(HOSTILE_DB) SET lc_monetary TO 'C'" \
		-c "ALTER DATABASE $(HOSTILE_DB) SET lc_numeric TO 'C'" -c "ALTER DATABASE $(HOSTILE_DB) SET lc_time TO 'C'" \
		-c "ALTER DATABASE $(HOSTILE_DB) SET bytea_output TO 'hex'" \
		-c "ALTER DATABASE $(HOSTILE_DB) SET timezone_abbreviations TO 'Default'" \
		-c "ALTER DATABASE $(HOSTILE_DB) SET search_path = public, hostile"
	'$(bindir)/psql' -qX -v ON_ERROR_STOP=1 -d $(HOSTILE_DB) -c 'CREATE EXTENSION csm'
	$(pg_regress_installcheck) --inputdir=. --use-existing --dbname=$(HOSTILE_DB) --outputdir=output_hostile $(REGRESS)

# The pg_regress suite against a database upgraded from an older release
# (UPGRADE_FROM, a version with a frozen script in src/updates/): the same
# expected files; results in output_upgraded/.  test/shell/upgrade.sh runs it
# for every released version.
UPGRADE_FROM = 0.1.0
UPGRADED_DB  = csm_upgraded_regression
.PHONY: installcheck-upgraded
installcheck-upgraded:
	'$(bindir)/dropdb' --if-exists $(UPGRADED_DB)
	'$(bindir)/createdb' --template=template0 $(UPGRADED_DB)
	'$(bindir)/psql' -qX -v ON_ERROR_STOP=1 -d $(UPGRADED_DB) \
		-c "ALTER DATABASE $(UPGRADED_DB) SET lc_messages TO 'C'" -c "ALTER DATABASE $(UPGRADED_DB) SET lc_monetary TO 'C'" \
		-c "ALTER DATABASE $(UPGRADED_DB) SET lc_numeric TO 'C'" -c "ALTER DATABASE $(UPGRADED_DB) SET lc_time TO 'C'" \
		-c "ALTER DATABASE $(UPGRADED_DB) SET bytea_output TO 'hex'" \
		-c "ALTER DATABASE $(UPGRADED_DB) SET timezone_abbreviations TO 'Default'" \
		-c "CREATE EXTENSION csm VERSION '$(UPGRADE_FROM)'" -c 'ALTER EXTENSION csm UPDATE'
	$(pg_regress_installcheck) --inputdir=. --use-existing --dbname=$(UPGRADED_DB) --outputdir=output_upgraded $(REGRESS)

# Static checks: both must stay quiet.
PG_INCLUDEDIR_SERVER = $(shell $(PG_CONFIG) --includedir-server 2>/dev/null)
.PHONY: lint
lint:
	cppcheck --enable=warning,performance,portability --error-exitcode=1 --quiet \
		--suppress='*:$(PG_INCLUDEDIR_SERVER)/*' -I$(PG_INCLUDEDIR_SERVER) src/*.c
	clang-tidy --quiet --warnings-as-errors='*' src/*.c -- -I$(PG_INCLUDEDIR_SERVER) -I$(PG_INCLUDEDIR_SERVER)/../internal
