/*
 * condition.c: csm.rule_condition, the condition of a routing rule, such as
 * plan = 'growth' AND churn_risk_score > 80.
 *
 * Conditions are written by users, so they are a small language of their
 * own, parsed and checked here when a value is input, and evaluated here
 * against a jsonb object of facts about an account: no SQL text a user wrote
 * is ever run.
 *
 *   expr      := and_expr ( OR and_expr )*
 *   and_expr  := not_expr ( AND not_expr )*
 *   not_expr  := NOT not_expr | primary
 *   primary   := '(' expr ')' | TRUE | FALSE | predicate
 *   predicate := attribute op literal
 *              | attribute [NOT] IN '(' literal ( ',' literal )* ')'
 *              | attribute IS [NOT] NULL
 *
 * A value is a flat array of nodes followed by a pool of NUL-terminated
 * strings; nodes refer to each other by index and to strings by offset, so
 * the value can be stored as it is.  Children come before their parent, and
 * the root is the last node.  The output is canonical: the same condition
 * always prints the same text, and that text reads back as the same nodes.
 *
 * A comparison with a fact that is missing, JSON null or NaN is false, never
 * unknown; NOT negates that, so NOT (plan = 'x') holds when plan is missing
 * while plan != 'x' does not.
 *
 *   csm_internal.rule_condition_in/out/recv/send         the type's I/O
 *   csm.condition_matches(rule_condition, jsonb)   -> boolean
 *   csm.condition_attributes(rule_condition)       -> text[]
 */
#include "postgres.h"

#include "compat.h"

#include <errno.h>
#include <math.h>

#include "catalog/pg_type.h"
#include "common/shortest_dec.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

PG_FUNCTION_INFO_V1(csm_rule_condition_in);
PG_FUNCTION_INFO_V1(csm_rule_condition_out);
PG_FUNCTION_INFO_V1(csm_rule_condition_recv);
PG_FUNCTION_INFO_V1(csm_rule_condition_send);
PG_FUNCTION_INFO_V1(csm_condition_matches);
PG_FUNCTION_INFO_V1(csm_condition_attributes);

/* Limits, so that parsing, storing and evaluating a condition stay cheap. */
#define COND_MAX_BYTES 4096		/* of the input, and of the canonical text */
#define COND_MAX_NODES 256
#define COND_MAX_DEPTH 32		/* parentheses and NOTs, nested */

#define COND_FORMAT 1			/* the version of the binary form */

/* An excerpt of the input quoted in a message stops after this many bytes. */
#define COND_EXCERPT_BYTES 40

typedef enum CondOp
{
	COND_OR,					/* first: the operands, linked by next */
	COND_AND,
	COND_NOT,					/* first: the operand */
	COND_TRUE,
	COND_FALSE,
	COND_CMP,					/* attr cmp literal */
	COND_IN,					/* attr [NOT] IN (first: the items, linked by next) */
	COND_IS_NULL,				/* attr IS [NOT] NULL */
	COND_ITEM					/* a literal in an IN list */
} CondOp;

typedef enum CondCmp
{
	CMP_EQ,
	CMP_NE,
	CMP_LT,
	CMP_LE,
	CMP_GT,
	CMP_GE
} CondCmp;

static const char *const cmp_names[] = {"=", "!=", "<", "<=", ">", ">="};

typedef enum CondLiteral
{
	LIT_STRING,
	LIT_NUMBER
} CondLiteral;

typedef enum CondKind
{
	KIND_TEXT,
	KIND_NUMBER,
	KIND_PROPERTY				/* text with a string, a number with a number */
} CondKind;

/* attr of a node that reads properties->key */
#define ATTR_PROPERTY (-1)

typedef struct CondNode
{
	uint8		op;				/* CondOp */
	uint8		cmp;			/* CondCmp of a COND_CMP */
	uint8		literal;		/* CondLiteral of a COND_CMP, COND_IN or COND_ITEM */
	uint8		negated;		/* NOT IN, IS NOT NULL */
	int16		attr;			/* index into attributes[], or ATTR_PROPERTY */
	int16		first;			/* first child, or -1 */
	int16		next;			/* next sibling, or -1 */
	int16		unused;
	int32		key;			/* a property's key: offset into the pool, or -1 */
	int32		str;			/* a string literal: offset into the pool, or -1 */
	int32		len;			/* its length in bytes */
	double		num;			/* a number literal */
} CondNode;

typedef struct RuleCondition
{
	int32		vl_len_;		/* varlena header (do not touch directly!) */
	uint8		format;			/* COND_FORMAT */
	uint8		unused;
	int16		nnodes;
	int32		root;
	CondNode	nodes[FLEXIBLE_ARRAY_MEMBER];
	/* the string pool follows the nodes */
} RuleCondition;

#define COND_POOL(c) ((const char *) &(c)->nodes[(c)->nnodes])
#define COND_POOL_LEN(c) ((int) (VARSIZE(c) - ((const char *) &(c)->nodes[(c)->nnodes] - (const char *) (c))))

#define DatumGetRuleCondition(d) ((RuleCondition *) PG_DETOAST_DATUM(d))

/* The attributes a condition can read, with the values a band may take. */
typedef struct CondAttribute
{
	const char *name;
	CondKind	kind;
	const char *const *values;	/* NULL-terminated, or NULL for any */
	const char *values_hint;
} CondAttribute;

static const char *const health_bands[] = {"green", "yellow", "red", "unknown", NULL};
static const char *const churn_bands[] = {"low", "moderate", "high", "critical", NULL};
static const char *const lifecycle_stages[] = {"onboarding", "adoption", "growth", "renewal", "churned", NULL};
static const char *const onboarding_phases[] = {"kickoff", "activation", "early_value", NULL};

static const CondAttribute attributes[] = {
	{"segment", KIND_TEXT, NULL, NULL},
	{"plan", KIND_TEXT, NULL, NULL},
	{"tier", KIND_TEXT, NULL, NULL},
	{"status", KIND_TEXT, NULL, NULL},
	{"health_band", KIND_TEXT, health_bands, "A health band is 'green', 'yellow', 'red' or 'unknown'."},
	{"churn_band", KIND_TEXT, churn_bands, "A churn band is 'low', 'moderate', 'high' or 'critical'."},
	{"lifecycle_stage", KIND_TEXT, lifecycle_stages,
	"A lifecycle stage is 'onboarding', 'adoption', 'growth', 'renewal' or 'churned'."},
	{"onboarding_phase", KIND_TEXT, onboarding_phases,
	"An onboarding phase is 'kickoff', 'activation' or 'early_value'."},
	{"external_id", KIND_TEXT, NULL, NULL},
	{"arr", KIND_NUMBER, NULL, NULL},
	{"seats", KIND_NUMBER, NULL, NULL},
	{"health_score", KIND_NUMBER, NULL, NULL},
	{"churn_risk_score", KIND_NUMBER, NULL, NULL},
	{"days_to_renewal", KIND_NUMBER, NULL, NULL},
	{"nps", KIND_NUMBER, NULL, NULL},
	{"days_since_start", KIND_NUMBER, NULL, NULL},
	{"success_criteria_met", KIND_NUMBER, NULL, NULL},
};

#define KNOWN_ATTRIBUTES_HINT \
	"Known attributes are segment, plan, tier, status, health_band, churn_band, lifecycle_stage, onboarding_phase and external_id (text); " \
	"arr, seats, health_score, churn_risk_score, days_to_renewal, nps, days_since_start and success_criteria_met (numbers); and property.<key>."

#define SYNTAX_HINT \
	"Conditions look like plan = 'growth' AND (churn_risk_score > 80 OR segment IN ('enterprise', 'mid_market'))."


/* ---------------------------------------------------------------------------
 * Lexer
 * ------------------------------------------------------------------------- */

typedef enum TokType
{
	TOK_END,
	TOK_LPAREN,
	TOK_RPAREN,
	TOK_COMMA,
	TOK_CMP,
	TOK_WORD,					/* a keyword, an attribute, or a signed word such as -Infinity */
	TOK_STRING,
	TOK_NUMBER,
	TOK_BAD						/* a character the language does not use */
} TokType;

typedef struct Token
{
	TokType		type;
	int			start;			/* byte offset into the input */
	int			len;
	CondCmp		cmp;
} Token;

typedef struct CondParser
{
	const char *input;
	int			len;
	int			pos;			/* where the token after tok starts looking */
	int			depth;
	Token		tok;
	int			nnodes;
	CondNode	nodes[COND_MAX_NODES];
	StringInfoData pool;
} CondParser;

static inline bool
is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static inline bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Non-ASCII letters are part of a word, so that an unknown name is reported whole. */
static inline bool
is_word_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || IS_HIGHBIT_SET(c);
}

static inline bool
is_word_char(char c)
{
	return is_word_start(c) || is_digit(c) || c == '.';
}

/* The length of the number at s: sign, digits, fraction, exponent; 0 if none. */
static int
scan_number(const char *s, int len)
{
	int			i = 0;
	int			digits;

	if (i < len && (s[i] == '+' || s[i] == '-'))
		i++;
	digits = i;
	while (i < len && is_digit(s[i]))
		i++;
	if (i == digits)
		return 0;
	if (i + 1 < len && s[i] == '.' && is_digit(s[i + 1]))
	{
		i++;
		while (i < len && is_digit(s[i]))
			i++;
	}
	if (i < len && (s[i] == 'e' || s[i] == 'E'))
	{
		int			j = i + 1;

		if (j < len && (s[j] == '+' || s[j] == '-'))
			j++;
		if (j < len && is_digit(s[j]))
		{
			while (j < len && is_digit(s[j]))
				j++;
			i = j;
		}
	}
	return i;
}

/*
 * NaN, inf or infinity (any case, infinities with a sign), as float8in reads
 * them: not numbers a condition may hold, but a fact may be one.
 */
static bool
is_nonfinite(const char *s, int len)
{
	bool		signed_ = len > 0 && (s[0] == '+' || s[0] == '-');
	const char *body = signed_ ? s + 1 : s;
	int			n = signed_ ? len - 1 : len;

	return (n == 3 && !signed_ && pg_strncasecmp(body, "nan", 3) == 0) ||
		(n == 3 && pg_strncasecmp(body, "inf", 3) == 0) ||
		(n == 8 && pg_strncasecmp(body, "infinity", 8) == 0);
}

/* 1-based character position of a byte offset, for messages. */
static int
char_position(const CondParser *p, int offset)
{
	return pg_mbstrlen_with_len(p->input, offset) + 1;
}

/* A piece of the input for a message: clipped, with control bytes as \xNN. */
static char *
excerpt(const char *s, int len)
{
	StringInfoData buf;
	int			clipped = pg_mbcliplen(s, len, COND_EXCERPT_BYTES);

	initStringInfo(&buf);
	for (int i = 0; i < clipped; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (c < 0x20 || c == 0x7f)
			appendStringInfo(&buf, "\\x%02x", c);
		else
			appendStringInfoChar(&buf, (char) c);
	}
	if (clipped < len)
		appendStringInfoString(&buf, "...");
	return buf.data;
}

pg_noreturn static void
unterminated_string(const CondParser *p, int start);

static void
unterminated_string(const CondParser *p, int start)
{
	ereport(ERROR,
			(errcode(ERRCODE_SYNTAX_ERROR),
			 errmsg("unterminated quoted string in rule condition"),
			 errdetail("The string that starts at character %d has no closing quote.", char_position(p, start)),
			 errhint("End strings with a single quote, and write a quote inside a string as two: 'o''brien'.")));
}

/* Reads the next token into p->tok. */
static void
advance(CondParser *p)
{
	const char *s = p->input;
	int			len = p->len;
	int			i = p->pos;
	Token	   *t = &p->tok;

	while (i < len && is_blank(s[i]))
		i++;
	t->start = i;
	t->len = 1;
	if (i >= len)
	{
		t->type = TOK_END;
		t->len = 0;
	}
	else if (s[i] == '(' || s[i] == ')' || s[i] == ',')
		t->type = s[i] == '(' ? TOK_LPAREN : s[i] == ')' ? TOK_RPAREN : TOK_COMMA;
	else if (s[i] == '=' || s[i] == '<' || s[i] == '>' || (s[i] == '!' && i + 1 < len && s[i + 1] == '='))
	{
		char		d = i + 1 < len ? s[i + 1] : '\0';

		t->type = TOK_CMP;
		if (s[i] == '=')
			t->cmp = CMP_EQ;
		else if (s[i] == '!' || (s[i] == '<' && d == '>'))
			t->cmp = CMP_NE;
		else if (s[i] == '<')
			t->cmp = d == '=' ? CMP_LE : CMP_LT;
		else
			t->cmp = d == '=' ? CMP_GE : CMP_GT;
		/* two characters unless it is =, < or > alone */
		t->len = (t->cmp == CMP_EQ || t->cmp == CMP_LT || t->cmp == CMP_GT) ? 1 : 2;
	}
	else if (s[i] == '\'')
	{
		int			j = i + 1;

		for (;;)
		{
			if (j >= len)
				unterminated_string(p, i);
			if (s[j] == '\'')
			{
				if (j + 1 < len && s[j + 1] == '\'')
				{
					j += 2;
					continue;
				}
				j++;
				break;
			}
			j++;
		}
		t->type = TOK_STRING;
		t->len = j - i;
	}
	else if (scan_number(s + i, len - i) > 0)
	{
		t->type = TOK_NUMBER;
		t->len = scan_number(s + i, len - i);
	}
	else if (is_word_start(s[i]) ||
			 ((s[i] == '+' || s[i] == '-') && i + 1 < len && is_word_start(s[i + 1])))
	{
		int			j = i + 1;

		while (j < len && is_word_char(s[j]))
			j++;
		t->type = TOK_WORD;
		t->len = j - i;
	}
	else
	{
		t->type = TOK_BAD;
		t->len = Max(1, Min(pg_mblen(s + i), len - i));
	}
	p->pos = t->start + t->len;
}

static bool
tok_is(const CondParser *p, const char *keyword)
{
	int			n = strlen(keyword);

	return p->tok.type == TOK_WORD && p->tok.len == n &&
		pg_strncasecmp(p->input + p->tok.start, keyword, n) == 0;
}

static bool
tok_is_reserved(const CondParser *p)
{
	static const char *const reserved[] = {"and", "or", "not", "in", "is", "null", "true", "false"};

	for (int i = 0; i < (int) lengthof(reserved); i++)
		if (tok_is(p, reserved[i]))
			return true;
	return false;
}


/* ---------------------------------------------------------------------------
 * Parser
 * ------------------------------------------------------------------------- */

pg_noreturn static void syntax_error(const CondParser *p, const char *expected);

static void
syntax_error(const CondParser *p, const char *expected)
{
	if (p->tok.type == TOK_END)
		ereport(ERROR,
				(errcode(ERRCODE_SYNTAX_ERROR),
				 errmsg("syntax error at end of rule condition"),
				 errdetail("Expected %s at character %d.", expected, char_position(p, p->tok.start)),
				 errhint(SYNTAX_HINT)));
	ereport(ERROR,
			(errcode(ERRCODE_SYNTAX_ERROR),
			 errmsg("syntax error at or near \"%s\" in rule condition",
					excerpt(p->input + p->tok.start, p->tok.len)),
			 errdetail("Expected %s at character %d.", expected, char_position(p, p->tok.start)),
			 errhint(SYNTAX_HINT)));
}

static void
enter(CondParser *p)
{
	check_stack_depth();
	if (++p->depth > COND_MAX_DEPTH)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("rule condition is nested too deeply"),
				 errdetail("Parentheses and NOTs nest more than %d deep at character %d.",
						   COND_MAX_DEPTH, char_position(p, p->tok.start)),
				 errhint("Leave out parentheses that are not needed, or split the condition into several rules.")));
}

static int
new_node(CondParser *p, CondOp op)
{
	CondNode   *n;

	if (p->nnodes >= COND_MAX_NODES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("rule condition is too complex"),
				 errdetail("It has more than %d nodes (predicates, list items and operators).", COND_MAX_NODES),
				 errhint("Split it into several rules.")));
	n = &p->nodes[p->nnodes];
	memset(n, 0, sizeof(CondNode));
	n->op = op;
	n->first = n->next = -1;
	n->key = n->str = -1;
	return p->nnodes++;
}

/* Adds a NUL-terminated copy of s to the pool, returning its offset. */
static int32
pool_add(CondParser *p, const char *s, int len)
{
	int32		offset = p->pool.len;

	appendBinaryStringInfo(&p->pool, s, len);
	appendStringInfoChar(&p->pool, '\0');
	return offset;
}

/* The attribute's name as written in the canonical form. */
static const char *
attribute_name(const char *pool, int attr, int32 key)
{
	return attr == ATTR_PROPERTY ? psprintf("property.%s", pool + key) : attributes[attr].name;
}

/* [a-z_][a-z0-9_]* */
static bool
valid_key(const char *s, int len)
{
	if (len == 0 || !((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
		return false;
	for (int i = 1; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || is_digit(s[i]) || s[i] == '_'))
			return false;
	return true;
}

/* Reads the attribute at the current word into n->attr and n->key. */
static void
parse_attribute(CondParser *p, CondNode *n)
{
	const char *w = p->input + p->tok.start;
	int			len = p->tok.len;
	const char *dot = memchr(w, '.', len);

	if (dot != NULL && dot - w == 8 && pg_strncasecmp(w, "property", 8) == 0)
	{
		const char *key = dot + 1;
		int			keylen = len - 9;

		if (!valid_key(key, keylen))
			ereport(ERROR,
					(errcode(ERRCODE_SYNTAX_ERROR),
					 errmsg("invalid property key \"%s\" in rule condition", excerpt(key, keylen)),
					 errdetail("At character %d.", char_position(p, p->tok.start + 9)),
					 errhint("A property key is a lower-case letter or underscore, then lower-case letters, digits or underscores, as in property.region.")));
		n->attr = ATTR_PROPERTY;
		n->key = pool_add(p, key, keylen);
		advance(p);
		return;
	}
	for (int i = 0; i < (int) lengthof(attributes); i++)
	{
		if (dot == NULL && tok_is(p, attributes[i].name))
		{
			n->attr = i;
			advance(p);
			return;
		}
	}
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_COLUMN),
			 errmsg("unknown attribute \"%s\" in rule condition", excerpt(w, len)),
			 errdetail("At character %d.", char_position(p, p->tok.start)),
			 errhint(KNOWN_ATTRIBUTES_HINT)));
}

/* Reads a literal into n->literal and n->num or n->str, checking it fits the attribute. */
static void
parse_literal(CondParser *p, CondNode *n, int attr, const char *name, CondCmp cmp)
{
	const char *s = p->input + p->tok.start;
	int			len = p->tok.len;
	int			start = p->tok.start;
	CondKind	kind = attr == ATTR_PROPERTY ? KIND_PROPERTY : attributes[attr].kind;

	if (p->tok.type == TOK_STRING)
	{
		StringInfoData value;

		initStringInfo(&value);
		for (int i = 1; i < len - 1; i++)
		{
			appendStringInfoChar(&value, s[i]);
			if (s[i] == '\'')
				i++;			/* '' is one quote */
		}
		n->literal = LIT_STRING;
		n->str = pool_add(p, value.data, value.len);
		n->len = value.len;
	}
	else if (p->tok.type == TOK_NUMBER)
	{
		char	   *text = pnstrdup(s, len);
		double		v;

		errno = 0;
		v = strtod(text, NULL);
		if ((errno == ERANGE && v == 0.0) || isinf(v))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("number %s is out of range in rule condition", excerpt(s, len)),
					 errdetail("At character %d.", char_position(p, start)),
					 errhint("Numbers must be within the range of double precision, and not so small that they round to zero.")));
		n->literal = LIT_NUMBER;
		n->num = v;
	}
	else if (p->tok.type == TOK_WORD && is_nonfinite(s, len))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("number %s is out of range in rule condition", excerpt(s, len)),
				 errdetail("At character %d.", char_position(p, start)),
				 errhint("Rule conditions compare with finite numbers only.")));
	else
		syntax_error(p, "a quoted string or a number");

	if (kind == KIND_TEXT && n->literal == LIT_NUMBER)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("attribute \"%s\" is text but is compared with the number %s", name, excerpt(s, len)),
				 errdetail("At character %d.", char_position(p, start)),
				 errhint("Quote text values: %s = '%s'.", name, excerpt(s, len))));
	if (kind == KIND_NUMBER && n->literal == LIT_STRING)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("attribute \"%s\" is a number but is compared with the string %s", name, excerpt(s, len)),
				 errdetail("At character %d.", char_position(p, start)),
				 errhint("Write numbers without quotes, as in %s > 80.", name)));
	if (n->literal == LIT_STRING && cmp != CMP_EQ && cmp != CMP_NE)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("operator %s cannot compare \"%s\" with the string %s", cmp_names[cmp], name, excerpt(s, len)),
				 errdetail("At character %d.", char_position(p, start)),
				 errhint("Strings are compared with =, != and IN; <, <=, > and >= compare numbers.")));
	if (kind == KIND_TEXT && attributes[attr].values != NULL)
	{
		const char *value = p->pool.data + n->str;
		bool		known = false;

		for (const char *const *v = attributes[attr].values; *v != NULL; v++)
			known |= strcmp(*v, value) == 0;
		if (!known)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s is not a valid %s", excerpt(s, len), attributes[attr].name),
					 errdetail("At character %d.", char_position(p, start)),
					 errhint("%s", attributes[attr].values_hint)));
	}
	advance(p);
}

static int	parse_or(CondParser *p);

static int
parse_predicate(CondParser *p)
{
	CondNode	n;
	const char *name;
	int			i;

	memset(&n, 0, sizeof(n));
	n.key = n.str = -1;
	parse_attribute(p, &n);
	name = attribute_name(p->pool.data, n.attr, n.key);
	if (p->tok.type == TOK_CMP)
	{
		n.cmp = p->tok.cmp;
		advance(p);
		parse_literal(p, &n, n.attr, name, (CondCmp) n.cmp);
		n.op = COND_CMP;
	}
	else if (tok_is(p, "in") || tok_is(p, "not"))
	{
		int			first = -1;

		n.negated = tok_is(p, "not");
		if (n.negated)
		{
			advance(p);
			if (!tok_is(p, "in"))
				syntax_error(p, "IN after NOT");
		}
		advance(p);
		if (p->tok.type != TOK_LPAREN)
			syntax_error(p, "\"(\" and a list of values after IN");
		do
		{
			int			item;
			int			start;

			advance(p);
			start = p->tok.start;
			item = new_node(p, COND_ITEM);
			parse_literal(p, &p->nodes[item], n.attr, name, CMP_EQ);
			if (first < 0)
				first = item;
			else if (p->nodes[item].literal != p->nodes[first].literal)
				ereport(ERROR,
						(errcode(ERRCODE_DATATYPE_MISMATCH),
						 errmsg("IN list for \"%s\" mixes strings and numbers", name),
						 errdetail("At character %d.", char_position(p, start)),
						 errhint("Compare with strings only or with numbers only.")));
			/* the items are consecutive nodes */
			if (item > first)
				p->nodes[item - 1].next = item;
		} while (p->tok.type == TOK_COMMA);
		if (p->tok.type != TOK_RPAREN)
			syntax_error(p, "\",\" or \")\" in the IN list");
		advance(p);
		n.op = COND_IN;
		n.first = first;
		n.literal = p->nodes[first].literal;
	}
	else if (tok_is(p, "is"))
	{
		advance(p);
		n.negated = tok_is(p, "not");
		if (n.negated)
			advance(p);
		if (!tok_is(p, "null"))
			syntax_error(p, n.negated ? "NULL after IS NOT" : "NULL or NOT NULL after IS");
		advance(p);
		n.op = COND_IS_NULL;
	}
	else
		syntax_error(p, psprintf("a comparison (=, !=, <>, <, <=, >, >=), IN, NOT IN or IS after \"%s\"", name));

	i = new_node(p, (CondOp) n.op);
	n.next = -1;
	if (n.op != COND_IN)
		n.first = -1;
	p->nodes[i] = n;
	return i;
}

/*
 * A parenthesis right after NOT adds no level of nesting: NOT (x) is as deep
 * as NOT x, so that the canonical text, which writes NOT (plan = 'x'), nests
 * no deeper than what was written.
 */
static int
parse_primary(CondParser *p, bool after_not)
{
	if (p->tok.type == TOK_LPAREN)
	{
		int			e;

		if (after_not)
			check_stack_depth();
		else
			enter(p);
		advance(p);
		e = parse_or(p);
		if (p->tok.type != TOK_RPAREN)
			syntax_error(p, "AND, OR or \")\"");
		advance(p);
		if (!after_not)
			p->depth--;
		return e;
	}
	if (tok_is(p, "true"))
	{
		advance(p);
		return new_node(p, COND_TRUE);
	}
	if (tok_is(p, "false"))
	{
		advance(p);
		return new_node(p, COND_FALSE);
	}
	if (p->tok.type == TOK_WORD && is_word_start(p->input[p->tok.start]) && !tok_is_reserved(p))
		return parse_predicate(p);
	syntax_error(p, "a predicate such as plan = 'growth', TRUE, FALSE, NOT or \"(\"");
	return -1;					/* keep compilers quiet */
}

static int
parse_not(CondParser *p, bool after_not)
{
	int			child;
	int			i;

	if (!tok_is(p, "not"))
		return parse_primary(p, after_not);
	enter(p);
	advance(p);
	child = parse_not(p, true);
	p->depth--;
	i = new_node(p, COND_NOT);
	p->nodes[i].first = child;
	return i;
}

static int
parse_operand(CondParser *p)
{
	return parse_not(p, false);
}

/* operand (op operand)*, as one node with the operands as its children */
static int
parse_list(CondParser *p, CondOp op, const char *keyword, int (*operand) (CondParser *))
{
	int			first = operand(p);
	int			last = first;
	int			i;

	if (!tok_is(p, keyword))
		return first;
	while (tok_is(p, keyword))
	{
		int			next;

		advance(p);
		next = operand(p);
		p->nodes[last].next = next;
		last = next;
	}
	i = new_node(p, op);
	p->nodes[i].first = first;
	return i;
}

static int
parse_and(CondParser *p)
{
	return parse_list(p, COND_AND, "and", parse_operand);
}

static int
parse_or(CondParser *p)
{
	return parse_list(p, COND_OR, "or", parse_and);
}

static void format_condition(const RuleCondition *c, StringInfo out);

/* Parses the text of a condition (len bytes, no NUL inside) into its binary form. */
static RuleCondition *
parse_condition(const char *text, int len)
{
	CondParser *p;
	RuleCondition *c;
	Size		size;
	int			i = 0;
	StringInfoData canonical;

	if (len > COND_MAX_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("rule condition is too long"),
				 errdetail("It is %d bytes; the limit is %d.", len, COND_MAX_BYTES),
				 errhint("Split it into several rules, or use IN lists.")));
	while (i < len && is_blank(text[i]))
		i++;
	if (i == len)
		ereport(ERROR,
				(errcode(ERRCODE_SYNTAX_ERROR),
				 errmsg("rule condition is empty"),
				 errhint("Write a condition such as plan = 'growth', or TRUE to match every account.")));

	p = palloc0(sizeof(CondParser));
	p->input = text;
	p->len = len;
	initStringInfo(&p->pool);
	advance(p);
	parse_or(p);
	if (p->tok.type != TOK_END)
		syntax_error(p, "AND, OR or the end of the condition");

	size = offsetof(RuleCondition, nodes) + p->nnodes * sizeof(CondNode) + p->pool.len;
	c = palloc0(size);
	SET_VARSIZE(c, size);
	c->format = COND_FORMAT;
	c->nnodes = p->nnodes;
	c->root = p->nnodes - 1;
	memcpy(c->nodes, p->nodes, p->nnodes * sizeof(CondNode));
	memcpy((char *) &c->nodes[c->nnodes], p->pool.data, p->pool.len);

	/* what is stored must read back: its canonical text is within the limit too */
	initStringInfo(&canonical);
	format_condition(c, &canonical);
	if (canonical.len > COND_MAX_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("rule condition is too long"),
				 errdetail("Its canonical form, which is what is stored and dumped, is %d bytes; the limit is %d.",
						   canonical.len, COND_MAX_BYTES),
				 errhint("Split it into several rules, or use IN lists.")));
	return c;
}


/* ---------------------------------------------------------------------------
 * The binary form: checks and canonical text
 * ------------------------------------------------------------------------- */

/* A value that did not come from parse_condition is corruption: can't happen. */
static void
check_condition(const RuleCondition *c)
{
	int			pool_len;

	if (VARSIZE(c) < offsetof(RuleCondition, nodes) || c->format != COND_FORMAT ||
		c->nnodes < 1 || c->nnodes > COND_MAX_NODES || c->root != c->nnodes - 1 ||
		VARSIZE(c) < offsetof(RuleCondition, nodes) + c->nnodes * sizeof(CondNode))
		elog(ERROR, "csm: corrupt rule condition");
	pool_len = COND_POOL_LEN(c);
	for (int i = 0; i < c->nnodes; i++)
	{
		const CondNode *n = &c->nodes[i];

		bool		branch = n->op == COND_OR || n->op == COND_AND || n->op == COND_NOT || n->op == COND_IN;
		bool		string = (n->op == COND_CMP || n->op == COND_ITEM) && n->literal == LIT_STRING;

		if (n->op > COND_ITEM || n->cmp > CMP_GE || n->literal > LIT_NUMBER ||
			n->attr < ATTR_PROPERTY || n->attr >= (int) lengthof(attributes) ||
			n->first < -1 || n->first >= i || (branch && n->first < 0) ||
			n->next < -1 || n->next >= c->nnodes || (n->next >= 0 && n->next <= i) ||
			n->key < -1 || n->key >= pool_len || (n->attr == ATTR_PROPERTY && n->key < 0) ||
			n->str < -1 || n->len < 0 || (string && n->str < 0) ||
			(n->str >= 0 && (int64) n->str + n->len >= pool_len))
			elog(ERROR, "csm: corrupt rule condition");
	}
	if (pool_len > 0 && COND_POOL(c)[pool_len - 1] != '\0')
		elog(ERROR, "csm: corrupt rule condition");
}

/* The next child of node parent after child k, or -1; children precede their parent. */
static inline int
next_child(const RuleCondition *c, int parent, int k)
{
	int			next = c->nodes[k].next;

	if (next >= parent)
		elog(ERROR, "csm: corrupt rule condition");
	return next;
}

static void
append_literal(StringInfo out, const RuleCondition *c, const CondNode *n)
{
	if (n->literal == LIT_NUMBER)
	{
		char		buf[DOUBLE_SHORTEST_DECIMAL_LEN];

		double_to_shortest_decimal_buf(n->num, buf);
		appendStringInfoString(out, buf);
		return;
	}
	appendStringInfoChar(out, '\'');
	for (const char *s = COND_POOL(c) + n->str; s < COND_POOL(c) + n->str + n->len; s++)
	{
		if (*s == '\'')
			appendStringInfoChar(out, '\'');
		appendStringInfoChar(out, *s);
	}
	appendStringInfoChar(out, '\'');
}

static void append_node(StringInfo out, const RuleCondition *c, int i);

/* An operand of AND, OR or NOT, in parentheses when it would not read back as the same tree. */
static void
append_operand(StringInfo out, const RuleCondition *c, int parent, int i)
{
	CondOp		outer = (CondOp) c->nodes[parent].op;
	CondOp		inner = (CondOp) c->nodes[i].op;

	bool		branch = inner == COND_AND || inner == COND_OR;
	bool		predicate = inner == COND_CMP || inner == COND_IN || inner == COND_IS_NULL;

	/*
	 * NOT and AND bind tighter than OR, and a same-operator operand came in
	 * parentheses; NOT (plan = 'x') reads better than NOT plan = 'x'.
	 */
	bool		parens = (branch && (outer != COND_OR || inner == COND_OR)) || (outer == COND_NOT && predicate);

	if (parens)
		appendStringInfoChar(out, '(');
	append_node(out, c, i);
	if (parens)
		appendStringInfoChar(out, ')');
}

static void
append_node(StringInfo out, const RuleCondition *c, int i)
{
	const CondNode *n = &c->nodes[i];

	check_stack_depth();
	switch ((CondOp) n->op)
	{
		case COND_OR:
		case COND_AND:
			for (int k = n->first; k >= 0; k = next_child(c, i, k))
			{
				if (k != n->first)
					appendStringInfoString(out, n->op == COND_OR ? " OR " : " AND ");
				append_operand(out, c, i, k);
			}
			return;
		case COND_NOT:
			appendStringInfoString(out, "NOT ");
			append_operand(out, c, i, n->first);
			return;
		case COND_TRUE:
			appendStringInfoString(out, "TRUE");
			return;
		case COND_FALSE:
			appendStringInfoString(out, "FALSE");
			return;
		case COND_ITEM:
			elog(ERROR, "csm: corrupt rule condition");
			return;
		case COND_CMP:
		case COND_IN:
		case COND_IS_NULL:
			break;
	}
	appendStringInfoString(out, attribute_name(COND_POOL(c), n->attr, n->key));
	if (n->op == COND_CMP)
	{
		appendStringInfo(out, " %s ", cmp_names[n->cmp]);
		append_literal(out, c, n);
	}
	else if (n->op == COND_IN)
	{
		appendStringInfoString(out, n->negated ? " NOT IN (" : " IN (");
		for (int k = n->first; k >= 0; k = next_child(c, i, k))
		{
			if (k != n->first)
				appendStringInfoString(out, ", ");
			append_literal(out, c, &c->nodes[k]);
		}
		appendStringInfoChar(out, ')');
	}
	else
		appendStringInfoString(out, n->negated ? " IS NOT NULL" : " IS NULL");
}

/*
 * The canonical text: keywords upper case, attributes lower case, strings
 * quoted with '' for a quote, numbers in their shortest exact form (as
 * float8out prints them), != for <>, and parentheses only where the tree
 * needs them, which is only where the input had them, and around a
 * predicate after NOT.
 */
static void
format_condition(const RuleCondition *c, StringInfo out)
{
	check_condition(c);
	append_node(out, c, c->root);
}


/* ---------------------------------------------------------------------------
 * Evaluation against facts
 * ------------------------------------------------------------------------- */

typedef struct Facts
{
	JsonbContainer *root;
	JsonbContainer *properties; /* NULL when absent or null */
	bool		properties_read;
} Facts;

typedef enum FactState
{
	FACT_MISSING,				/* absent or JSON null */
	FACT_UNCOMPARABLE,			/* NaN, or a property of another type than the literal */
	FACT_VALUE
} FactState;

typedef struct Fact
{
	double		num;
	const char *str;
	int			len;
} Fact;

pg_noreturn static void bad_fact(const char *name, const char *what);

static void
bad_fact(const char *name, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("fact \"%s\" is not %s", name, what),
			 errhint("Pass account facts as a JSON object such as {\"plan\": \"growth\", \"arr\": 120000, \"properties\": {\"region\": \"emea\"}}.")));
}

/* A number in a JSON string: the literal syntax, or NaN and infinities as float8out writes them. */
static bool
number_from_string(const char *s, int len, double *v)
{
	if (len > 0 && scan_number(s, len) == len)
		*v = strtod(pnstrdup(s, len), NULL);	/* beyond the range: an infinity, or zero */
	else if (is_nonfinite(s, len))
		*v = (s[0] == 'n' || s[0] == 'N') ? NAN : s[0] == '-' ? -INFINITY : INFINITY;
	else
		return false;
	return true;
}

/* Looks up the fact that node n reads, as a number or a string after the literal. */
static FactState
read_fact(Facts *facts, const RuleCondition *c, const CondNode *n, Fact *fact, bool presence_only)
{
	JsonbContainer *container = facts->root;
	const char *key;
	JsonbValue	value;
	JsonbValue *v;
	bool		property = n->attr == ATTR_PROPERTY;

	if (property)
	{
		if (!facts->properties_read)
		{
			v = getKeyJsonValueFromContainer(facts->root, "properties", 10, &value);
			facts->properties_read = true;
			facts->properties = NULL;
			if (v != NULL && v->type != jbvNull)
			{
				if (v->type != jbvBinary || !JsonContainerIsObject(v->val.binary.data))
					bad_fact("properties", "a JSON object");
				facts->properties = v->val.binary.data;
			}
		}
		if (facts->properties == NULL)
			return FACT_MISSING;
		container = facts->properties;
		key = COND_POOL(c) + n->key;
	}
	else
		key = attributes[n->attr].name;

	v = getKeyJsonValueFromContainer(container, key, strlen(key), &value);
	if (v == NULL || v->type == jbvNull)
		return FACT_MISSING;
	if (presence_only)
		return FACT_VALUE;

	if (n->literal == LIT_NUMBER)
	{
		if (v->type == jbvNumeric)
			fact->num = DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow,
														   NumericGetDatum(v->val.numeric)));
		else if (!(v->type == jbvString && number_from_string(v->val.string.val, v->val.string.len, &fact->num)))
		{
			if (property)
				return FACT_UNCOMPARABLE;
			bad_fact(key, "a number");
		}
		return isnan(fact->num) ? FACT_UNCOMPARABLE : FACT_VALUE;
	}

	if (v->type == jbvString)
	{
		fact->str = v->val.string.val;
		fact->len = v->val.string.len;
		return FACT_VALUE;
	}
	if (property && v->type == jbvBool)
	{
		fact->str = v->val.boolean ? "true" : "false";
		fact->len = strlen(fact->str);
		return FACT_VALUE;
	}
	if (property)
		return FACT_UNCOMPARABLE;
	bad_fact(key, "a string");
	return FACT_MISSING;		/* keep compilers quiet */
}

static bool
compare(const Fact *fact, CondCmp cmp, const RuleCondition *c, const CondNode *lit)
{
	double		a = fact->num;
	double		b = lit->num;
	bool		equal;

	if (lit->literal == LIT_STRING)
	{
		equal = fact->len == lit->len && memcmp(fact->str, COND_POOL(c) + lit->str, lit->len) == 0;
		if (cmp != CMP_EQ && cmp != CMP_NE)
			elog(ERROR, "csm: corrupt rule condition");
		return cmp == CMP_EQ ? equal : !equal;
	}
	switch (cmp)
	{
		case CMP_EQ:
			return a == b;
		case CMP_NE:
			return a != b;
		case CMP_LT:
			return a < b;
		case CMP_LE:
			return a <= b;
		case CMP_GT:
			return a > b;
		case CMP_GE:
			return a >= b;
	}
	return false;
}

/*
 * Every operand of AND and OR is evaluated, so that a fact of the wrong
 * type is an error whatever the order of the predicates.
 */
static bool
eval_node(const RuleCondition *c, int i, Facts *facts)
{
	const CondNode *n = &c->nodes[i];
	Fact		fact = {0};
	bool		result;

	check_stack_depth();
	switch ((CondOp) n->op)
	{
		case COND_OR:
		case COND_AND:
			result = n->op == COND_AND;
			for (int k = n->first; k >= 0; k = next_child(c, i, k))
			{
				bool		operand = eval_node(c, k, facts);

				result = n->op == COND_AND ? result && operand : result || operand;
			}
			return result;
		case COND_NOT:
			return !eval_node(c, n->first, facts);
		case COND_TRUE:
			return true;
		case COND_FALSE:
			return false;
		case COND_IS_NULL:
			return (read_fact(facts, c, n, &fact, true) == FACT_MISSING) != n->negated;
		case COND_CMP:
			return read_fact(facts, c, n, &fact, false) == FACT_VALUE && compare(&fact, (CondCmp) n->cmp, c, n);
		case COND_IN:
			if (read_fact(facts, c, n, &fact, false) != FACT_VALUE)
				return false;
			result = false;
			for (int k = n->first; k >= 0; k = next_child(c, i, k))
			{
				if (c->nodes[k].literal != n->literal)
					elog(ERROR, "csm: corrupt rule condition");
				result |= compare(&fact, CMP_EQ, c, &c->nodes[k]);
			}
			return result != n->negated;
		case COND_ITEM:
			break;
	}
	elog(ERROR, "csm: corrupt rule condition");
	return false;				/* keep compilers quiet */
}

static bool
condition_matches(const RuleCondition *c, Jsonb *facts)
{
	Facts		f = {&facts->root, NULL, false};

	if (!JB_ROOT_IS_OBJECT(facts) || JB_ROOT_IS_SCALAR(facts))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("rule facts must be a JSON object"),
				 errhint("Pass account facts as a JSON object such as {\"plan\": \"growth\", \"arr\": 120000, \"properties\": {\"region\": \"emea\"}}.")));
	check_condition(c);
	return eval_node(c, c->root, &f);
}

static int
compare_names(const void *a, const void *b)
{
	return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* The distinct attributes c reads, sorted bytewise; returns how many. */
static int
condition_attributes(const RuleCondition *c, const char **names)
{
	int			n = 0;
	int			distinct = 0;

	check_condition(c);
	for (int i = 0; i < c->nnodes; i++)
	{
		const CondNode *node = &c->nodes[i];

		if (node->op == COND_CMP || node->op == COND_IN || node->op == COND_IS_NULL)
			names[n++] = attribute_name(COND_POOL(c), node->attr, node->key);
	}
	if (n == 0)
		return 0;
	qsort(names, n, sizeof(const char *), compare_names);
	for (int i = 1; i < n; i++)
		if (strcmp(names[i], names[distinct]) != 0)
			names[++distinct] = names[i];
	return distinct + 1;
}


/* ---------------------------------------------------------------------------
 * SQL-callable functions
 * ------------------------------------------------------------------------- */

Datum
csm_rule_condition_in(PG_FUNCTION_ARGS)
{
	const char *text = PG_GETARG_CSTRING(0);

	PG_RETURN_POINTER(parse_condition(text, strlen(text)));
}

Datum
csm_rule_condition_out(PG_FUNCTION_ARGS)
{
	RuleCondition *c = DatumGetRuleCondition(PG_GETARG_DATUM(0));
	StringInfoData out;

	initStringInfo(&out);
	format_condition(c, &out);
	PG_RETURN_CSTRING(out.data);
}

/* The binary form on the wire is the canonical text, parsed again on receipt. */
Datum
csm_rule_condition_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int			len;
	char	   *text = pq_getmsgtext(buf, buf->len - buf->cursor, &len);

	if (memchr(text, '\0', len) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_CHARACTER_NOT_IN_REPERTOIRE),
				 errmsg("rule condition contains a zero byte")));
	PG_RETURN_POINTER(parse_condition(text, len));
}

Datum
csm_rule_condition_send(PG_FUNCTION_ARGS)
{
	RuleCondition *c = DatumGetRuleCondition(PG_GETARG_DATUM(0));
	StringInfoData out;
	StringInfoData buf;

	initStringInfo(&out);
	format_condition(c, &out);
	pq_begintypsend(&buf);
	pq_sendtext(&buf, out.data, out.len);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

Datum
csm_condition_matches(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(condition_matches(DatumGetRuleCondition(PG_GETARG_DATUM(0)), PG_GETARG_JSONB_P(1)));
}

Datum
csm_condition_attributes(PG_FUNCTION_ARGS)
{
	RuleCondition *c = DatumGetRuleCondition(PG_GETARG_DATUM(0));
	const char **names = palloc(c->nnodes * sizeof(const char *));
	Datum	   *elems;
	int			n = condition_attributes(c, names);

	elems = palloc(Max(n, 1) * sizeof(Datum));
	for (int i = 0; i < n; i++)
		elems[i] = CStringGetTextDatum(names[i]);
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
}
