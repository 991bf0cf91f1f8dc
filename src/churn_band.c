/*
 * churn_band.c: churn probability bands and the 0-100 risk score.
 *
 *   csm.churn_band(probability float8) -> csm.churn_band
 *   csm.churn_risk_score(probability float8) -> float8
 *
 * The bands are the customer-success-agent seed's 90-day bands:
 *
 *   critical   p > 0.70
 *   high       0.50 <= p <= 0.70
 *   moderate   0.30 <= p < 0.50
 *   low        p < 0.30
 *
 * The boundaries are the float8 values of the literals 0.70, 0.50 and 0.30,
 * which are also what '0.7'::float8 and friends parse to, so a probability
 * typed as 0.7 is exactly on the boundary.  A probability must be a number
 * in [0, 1]; NaN, the infinities and anything outside are refused with
 * 22003 rather than banded.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_enum.h"
#include "fmgr.h"
#include "utils/float.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

PG_FUNCTION_INFO_V1(csm_churn_band);
PG_FUNCTION_INFO_V1(csm_churn_risk_score);

/* The bands, in the enum's order. */
typedef enum ChurnBand
{
	CHURN_LOW = 0,
	CHURN_MODERATE,
	CHURN_HIGH,
	CHURN_CRITICAL
} ChurnBand;

#define CHURN_NBANDS (CHURN_CRITICAL + 1)

static const char *const churn_band_labels[CHURN_NBANDS] = {"low", "moderate", "high", "critical"};

/* The lower edges of the bands above low; critical's edge is exclusive. */
#define CHURN_MODERATE_FROM 0.30
#define CHURN_HIGH_FROM 0.50
#define CHURN_CRITICAL_ABOVE 0.70

/*
 * The kernel: the band of a probability already known to be in [0, 1].
 * No fmgr, no errors, so that a batch path or a test can call it as is.
 */
static inline ChurnBand
churn_band_of(double p)
{
	if (p > CHURN_CRITICAL_ABOVE)
		return CHURN_CRITICAL;
	if (p >= CHURN_HIGH_FROM)
		return CHURN_HIGH;
	if (p >= CHURN_MODERATE_FROM)
		return CHURN_MODERATE;
	return CHURN_LOW;
}

/* Refuses anything that is not a probability. -0.0 is 0 and passes. */
static inline void
check_probability(double p)
{
	if (isnan(p))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("churn probability is NaN"),
				 errhint("A churn probability is a number from 0 to 1.")));
	if (!(p >= 0.0 && p <= 1.0))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("churn probability %s is outside [0, 1]", float8out_internal(p)),
				 errhint("A churn probability is a number from 0 to 1; for a 0-100 score use csm.churn_risk_score().")));
}

/* The enum's label OIDs, looked up once per call site. */
typedef struct ChurnBandCache
{
	Oid			labels[CHURN_NBANDS];
} ChurnBandCache;

static const ChurnBandCache *
band_cache(FunctionCallInfo fcinfo)
{
	ChurnBandCache *cache;

	if (fcinfo->flinfo == NULL)
		elog(ERROR, "csm: churn_band must be called through fmgr with flinfo");
	cache = (ChurnBandCache *) fcinfo->flinfo->fn_extra;
	if (cache == NULL)
	{
		/* the declared return type: csm.churn_band in the extension's schema */
		Oid			enumtype = get_func_rettype(fcinfo->flinfo->fn_oid);

		cache = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, sizeof(ChurnBandCache));
		for (int b = 0; b < CHURN_NBANDS; b++)
		{
			cache->labels[b] = GetSysCacheOid2(ENUMTYPOIDNAME, Anum_pg_enum_oid,
											   ObjectIdGetDatum(enumtype),
											   CStringGetDatum(churn_band_labels[b]));
			if (!OidIsValid(cache->labels[b]))
				elog(ERROR, "csm: churn_band label \"%s\" is missing from type %u",
					 churn_band_labels[b], enumtype);
		}
		fcinfo->flinfo->fn_extra = cache;
	}
	return cache;
}

Datum
csm_churn_band(PG_FUNCTION_ARGS)
{
	double		p = PG_GETARG_FLOAT8(0);

	check_probability(p);
	PG_RETURN_OID(band_cache(fcinfo)->labels[churn_band_of(p)]);
}

Datum
csm_churn_risk_score(PG_FUNCTION_ARGS)
{
	double		p = PG_GETARG_FLOAT8(0);

	check_probability(p);
	/* + 0.0 turns -0.0 into 0, so the score never prints as -0 */
	PG_RETURN_FLOAT8(p * 100.0 + 0.0);
}
