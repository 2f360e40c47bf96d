/* SigV4 known-answer tests: AWS's published signature test suite
 * ("aws-sig-v4-test-suite", service "service", region us-east-1,
 * 2015-08-30T12:36:00Z, AKIDEXAMPLE), the four examples of the S3
 * documentation ("Signature Calculations for the Authorization Header",
 * examplebucket, 2013-05-24), and the encoding helpers.
 *
 * Each of the 28 suite cases checks the string to sign (whose last line is the hash
 * of the canonical request, so it pins the canonical request exactly) and
 * the Authorization header; a few also compare the canonical request
 * text, so that a failure shows where it differs.
 *
 * Not included: get-header-value-multiline (obsolete header line folding,
 * which no HTTP/1.1 client sends) and post-sts-header-after (a token added
 * after signing: nothing for a signer to do). For post-x-www-form-urlencoded
 * the suite's published .creq and .authz disagree (one signs
 * content-length, the other does not); we check the .sts/.authz pair,
 * which is consistent, with content-type;host;x-amz-date signed.
 * post-x-www-form-urlencoded-parameters is left out: none of its
 * published files agree with another (its .sts is not the hash of its
 * .creq, nor of any variant of it we tried). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "crypto/crypto.h"
#include "storage/sigv4.h"
#include "util/buf.h"
#include "util/err.h"

#define SUITE_DATE "20150830T123600Z"
#define SUITE_STS(hash)                                                        \
	"AWS4-HMAC-SHA256\n" SUITE_DATE                                        \
	"\n20150830/us-east-1/service/aws4_request\n" hash
#define SUITE_AUTHZ(signed_headers, sig)                                       \
	"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/"  \
	"aws4_request, SignedHeaders=" signed_headers ", Signature=" sig
#define HOST_HDR {"Host", "example.amazonaws.com"}
#define DATE_HDR {"X-Amz-Date", SUITE_DATE}
#define MAXH 8

static const stow_sigv4_signer suite_signer = {
    .access_key = "AKIDEXAMPLE",
    .secret_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
    .region = "us-east-1",
    .service = "service",
};

#define STS_TOKEN                                                              \
	"AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQW"  \
	"LWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/"       \
	"kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp" \
	"75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbq" \
	"BAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/"    \
	"oLxBA=="

typedef struct suite_case {
	const char *name;
	const char *method;
	const char *path;
	const char *query; /* raw "a=b&c=d", split on '&' and the first '=' */
	stow_sigv4_kv headers[MAXH];
	const char *body;
	bool normalize;
	const char *creq; /* NULL: checked through the string to sign */
	const char *sts;
	const char *authz;
} suite_case;

static const suite_case suite[] = {
    {"get-vanilla", "GET", "/", "", {HOST_HDR, DATE_HDR}, "", false,
     "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
     "host;x-amz-date\n"
     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
     SUITE_STS(
	 "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"),
     SUITE_AUTHZ(
	 "host;x-amz-date",
	 "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")},
    {"get-vanilla-query", "GET", "/", "", {HOST_HDR, DATE_HDR}, "", false,
     NULL,
     SUITE_STS(
	 "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"),
     SUITE_AUTHZ(
	 "host;x-amz-date",
	 "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")},
    {"get-vanilla-empty-query-key", "GET", "/", "Param1=value1",
     {HOST_HDR, DATE_HDR}, "", false, NULL,
     SUITE_STS(
	 "1e24db194ed7d0eec2de28d7369675a243488e08526e8c1c73571282f7c517ab"),
     SUITE_AUTHZ(
	 "host;x-amz-date",
	 "a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb")},
    {"get-vanilla-query-order-key", "GET", "/",
     "Param1=value2&Param1=Value1", {HOST_HDR, DATE_HDR}, "", false,
     "GET\n/\nParam1=Value1&Param1=value2\nhost:example.amazonaws.com\n"
     "x-amz-date:20150830T123600Z\n\nhost;x-amz-date\n"
     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
     SUITE_STS(
	 "704b4cef673542d84cdff252633f065e8daeba5f168b77116f8b1bcaf3d38f89"),
     SUITE_AUTHZ(
	 "host;x-amz-date",
	 "eedbc4e291e521cf13422ffca22be7d2eb8146eecf653089df300a15b2382bd1")},
    {"get-vanilla-query-order-key-case", "GET", "/",
     "Param2=value2&Param1=value1", {HOST_HDR, DATE_HDR}, "", false,
     "GET\n/\nParam1=value1&Param2=value2\nhost:example.amazonaws.com\n"
     "x-amz-date:20150830T123600Z\n\nhost;x-amz-date\n"
     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
     SUITE_STS(
	 "816cd5b414d056048ba4f7c5386d6e0533120fb1fcfa93762cf0fc39e2cf19e0"),
     SUITE_AUTHZ(
	 "host;x-amz-date",
	 "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500")},
    {"get-vanilla-query-order-value", "GET", "/",
     "Param1=value2&Param1=value1", {HOST_HDR, DATE_HDR}, "", false, NULL,
     SUITE_STS(
	 "c968629d70850097a2d8781c9bf7edcb988b04cac14cca9be4acc3595f884606"),
     SUITE_AUTHZ(
	 "host;x-amz-date",
	 "5772eed61e12b33fae39ee5e7012498b51d56abc0abb7c60486157bd471c4694")},
    {"get-vanilla-query-unreserved", "GET", "/",
     "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz="
     "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
     {HOST_HDR, DATE_HDR}, "", false, NULL,
     SUITE_STS(
	 "c30d4703d9f799439be92736156d47ccfb2d879ddf56f5befa6d1d6aab979177"),
     SUITE_AUTHZ(
	 "host;x-amz-date",
	 "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197")},
    {"get-vanilla-utf8-query", "GET", "/", "\xe1\x88\xb4=bar",
     {HOST_HDR, DATE_HDR}, "", false,
     "GET\n/\n%E1%88%B4=bar\nhost:example.amazonaws.com\n"
     "x-amz-date:20150830T123600Z\n\nhost;x-amz-date\n"
     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
     SUITE_STS(
	 "eb30c5bed55734080471a834cc727ae56beb50e5f39d1bff6d0d38cb192a7073"),
     SUITE_AUTHZ(
	 "host;x-amz-date",
	 "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04")},
    {"get-unreserved", "GET",
     "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
     "", {HOST_HDR, DATE_HDR}, "", false, NULL,
     SUITE_STS(
	 "6a968768eefaa713e2a6b16b589a8ea192661f098f37349f4e2c0082757446f9"),
     SUITE_AUTHZ(
	 "host;x-amz-date",
	 "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f")},
    {"get-utf8", "GET", "/\xe1\x88\xb4", "", {HOST_HDR, DATE_HDR}, "", false,
     "GET\n/%E1%88%B4\n\nhost:example.amazonaws.com\n"
     "x-amz-date:20150830T123600Z\n\nhost;x-amz-date\n"
     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
     SUITE_STS(
	 "2a0a97d02205e45ce2e994789806b19270cfbbb0921b278ccf58f5249ac42102"),
     SUITE_AUTHZ(
	 "host;x-amz-date",
	 "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85")},
    {"get-header-key-duplicate",
     "GET",
     "/",
     "",
     {HOST_HDR,
      {"My-Header1", "value2"},
      {"My-Header1", "value2"},
      {"My-Header1", "value1"},
      DATE_HDR},
     "",
     false,
     "GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value2,value2,value1\n"
     "x-amz-date:20150830T123600Z\n\nhost;my-header1;x-amz-date\n"
     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
     SUITE_STS(
	 "dc7f04a3abfde8d472b0ab1a418b741b7c67174dad1551b4117b15527fbe966c"),
     SUITE_AUTHZ(
	 "host;my-header1;x-amz-date",
	 "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea")},
    {"get-header-value-order",
     "GET",
     "/",
     "",
     {HOST_HDR,
      {"My-Header1", "value4"},
      {"My-Header1", "value1"},
      {"My-Header1", "value3"},
      {"My-Header1", "value2"},
      DATE_HDR},
     "",
     false,
     NULL,
     SUITE_STS(
	 "31ce73cd3f3d9f66977ad3dd957dc47af14df92fcd8509f59b349e9137c58b86"),
     SUITE_AUTHZ(
	 "host;my-header1;x-amz-date",
	 "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01")},
    {"get-header-value-trim",
     "GET",
     "/",
     "",
     {HOST_HDR,
      {"My-Header1", " value1"},
      {"My-Header2", " \"a   b   c\""},
      DATE_HDR},
     "",
     false,
     "GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value1\n"
     "my-header2:\"a b c\"\nx-amz-date:20150830T123600Z\n\n"
     "host;my-header1;my-header2;x-amz-date\n"
     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
     SUITE_STS(
	 "a726db9b0df21c14f559d0a978e563112acb1b9e05476f0a6a1c7d68f28605c7"),
     SUITE_AUTHZ(
	 "host;my-header1;my-header2;x-amz-date",
	 "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736")},
    {"post-vanilla", "POST", "/", "", {HOST_HDR, DATE_HDR}, "", false, NULL,
     SUITE_STS(
	 "553f88c9e4d10fc9e109e2aeb65f030801b70c2f6468faca261d401ae622fc87"),
     SUITE_AUTHZ(
	 "host;x-amz-date",
	 "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b")},
    {"post-header-key-case", "POST", "/", "", {HOST_HDR, DATE_HDR}, "", false,
     NULL,
     SUITE_STS(
	 "553f88c9e4d10fc9e109e2aeb65f030801b70c2f6468faca261d401ae622fc87"),
     SUITE_AUTHZ(
	 "host;x-amz-date",
	 "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b")},
    {"post-header-key-sort", "POST", "/", "",
     {HOST_HDR, {"My-Header1", "value1"}, DATE_HDR}, "", false, NULL,
     SUITE_STS(
	 "9368318c2967cf6de74404b30c65a91e8f6253e0a8659d6d5319f1a812f87d65"),
     SUITE_AUTHZ(
	 "host;my-header1;x-amz-date",
	 "c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c")},
    {"post-header-value-case", "POST", "/", "",
     {HOST_HDR, {"My-Header1", "VALUE1"}, DATE_HDR}, "", false, NULL,
     SUITE_STS(
	 "d51ced243e649e3de6ef63afbbdcbca03131a21a7103a1583706a64618606a93"),
     SUITE_AUTHZ(
	 "host;my-header1;x-amz-date",
	 "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d")},
    {"post-vanilla-query", "POST", "/", "Param1=value1", {HOST_HDR, DATE_HDR},
     "", false, NULL,
     SUITE_STS(
	 "9d659678c1756bb3113e2ce898845a0a79dbbc57b740555917687f1b3340fbbd"),
     SUITE_AUTHZ(
	 "host;x-amz-date",
	 "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11")},
    {"post-vanilla-empty-query-value", "POST", "/", "Param1=value1",
     {HOST_HDR, DATE_HDR}, "", false, NULL,
     SUITE_STS(
	 "9d659678c1756bb3113e2ce898845a0a79dbbc57b740555917687f1b3340fbbd"),
     SUITE_AUTHZ(
	 "host;x-amz-date",
	 "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11")},
    {"post-x-www-form-urlencoded",
     "POST",
     "/",
     "",
     {{"Content-Type", "application/x-www-form-urlencoded"}, HOST_HDR,
      DATE_HDR},
     "Param1=value1",
     false,
     "POST\n/\n\ncontent-type:application/x-www-form-urlencoded\n"
     "host:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
     "content-type;host;x-amz-date\n"
     "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e",
     SUITE_STS(
	 "42a5e5bb34198acb3e84da4f085bb7927f2bc277ca766e6d19c73c2154021281"),
     SUITE_AUTHZ(
	 "content-type;host;x-amz-date",
	 "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a")},
    {"post-sts-header-before",
     "POST",
     "/",
     "",
     {HOST_HDR, DATE_HDR, {"X-Amz-Security-Token", STS_TOKEN}},
     "",
     false,
     "POST\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n"
     "x-amz-security-token:" STS_TOKEN "\n\n"
     "host;x-amz-date;x-amz-security-token\n"
     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
     SUITE_STS(
	 "c237e1b440d4c63c32ca95b5b99481081cb7b13c7e40434868e71567c1a882f6"),
     SUITE_AUTHZ(
	 "host;x-amz-date;x-amz-security-token",
	 "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead")},
    /* The normalize-path group: what services other than S3 do. */
    {"get-slash", "GET", "//", "", {HOST_HDR, DATE_HDR}, "", true, NULL,
     SUITE_STS(
	 "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"),
     SUITE_AUTHZ(
	 "host;x-amz-date",
	 "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")},
    {"get-slashes", "GET", "//example//", "", {HOST_HDR, DATE_HDR}, "", true,
     "GET\n/example/\n\nhost:example.amazonaws.com\n"
     "x-amz-date:20150830T123600Z\n\nhost;x-amz-date\n"
     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
     SUITE_STS(
	 "cb96b4ac96d501f7c5c15bc6d67b3035061cfced4af6585ad927f7e6c985c015"),
     SUITE_AUTHZ(
	 "host;x-amz-date",
	 "9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84")},
    {"get-relative", "GET", "/example/..", "", {HOST_HDR, DATE_HDR}, "", true,
     NULL,
     SUITE_STS(
	 "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"),
     SUITE_AUTHZ(
	 "host;x-amz-date",
	 "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")},
    {"get-relative-relative", "GET", "/example1/example2/../..", "",
     {HOST_HDR, DATE_HDR}, "", true, NULL,
     SUITE_STS(
	 "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"),
     SUITE_AUTHZ(
	 "host;x-amz-date",
	 "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")},
    {"get-slash-dot-slash", "GET", "/./", "", {HOST_HDR, DATE_HDR}, "", true,
     NULL,
     SUITE_STS(
	 "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"),
     SUITE_AUTHZ(
	 "host;x-amz-date",
	 "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")},
    {"get-slash-pointless-dot", "GET", "/./example", "",
     {HOST_HDR, DATE_HDR}, "", true, NULL,
     SUITE_STS(
	 "214d50c111a8edc4819da6a636336472c916b5240f51e9a51b5c3305180cf702"),
     SUITE_AUTHZ(
	 "host;x-amz-date",
	 "ef75d96142cf21edca26f06005da7988e4f8dc83a165a80865db7089db637ec5")},
    {"get-space", "GET", "/example space/", "", {HOST_HDR, DATE_HDR}, "",
     true,
     "GET\n/example%20space/\n\nhost:example.amazonaws.com\n"
     "x-amz-date:20150830T123600Z\n\nhost;x-amz-date\n"
     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
     SUITE_STS(
	 "63ee75631ed7234ae61b5f736dfc7754cdccfedbff4b5128a915706ee9390d86"),
     SUITE_AUTHZ(
	 "host;x-amz-date",
	 "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741")},
};

static size_t count_headers(const stow_sigv4_kv *h)
{
	size_t n = 0;

	while (n < MAXH && h[n].name)
		n++;
	return n;
}

/* Split "a=b&c=d" into q (strings copied into store). */
static size_t split_query(const char *s, stow_sigv4_kv *q, size_t max,
			  char *store, size_t store_len)
{
	size_t n = 0;

	assert_true(strlen(s) < store_len);
	memcpy(store, s, strlen(s) + 1);
	if (!*store)
		return 0;
	for (char *p = store; p && n < max;) {
		char *amp = strchr(p, '&'), *eq;

		if (amp)
			*amp = '\0';
		eq = strchr(p, '=');
		if (eq)
			*eq = '\0';
		q[n].name = p;
		q[n].value = eq ? eq + 1 : "";
		n++;
		p = amp ? amp + 1 : NULL;
	}
	return n;
}

static void run_case(const stow_sigv4_signer *k, const suite_case *c,
		     const char *date)
{
	stow_sigv4_kv q[8];
	char qstore[512], hash[STOW_SIGV4_HASH_HEX_LEN];
	stow_buf authz, creq, sts;
	stow_sigv4_trace tr = {&creq, &sts};
	stow_sigv4_request req = {0};
	int rc;

	stow_buf_init(&authz, 0);
	stow_buf_init(&creq, 0);
	stow_buf_init(&sts, 0);
	assert_int_equal(
	    stow_sigv4_sha256_hex(c->body, strlen(c->body), hash), 0);
	req.method = c->method;
	req.path = c->path;
	req.nquery = split_query(c->query, q, 8, qstore, sizeof(qstore));
	req.query = q;
	req.headers = c->headers;
	req.nheaders = count_headers(c->headers);
	req.payload_hash = hash;
	req.normalize_path = c->normalize;
	rc = stow_sigv4_sign(k, &req, date, &authz, &tr);
	if (rc != 0)
		fail_msg("%s: %s", c->name, stow_err_msg());
	if (c->creq && strcmp((char *)creq.data, c->creq) != 0)
		fail_msg("%s: canonical request\n%s\n--- want ---\n%s",
			 c->name, (char *)creq.data, c->creq);
	if (strcmp((char *)sts.data, c->sts) != 0)
		fail_msg("%s: string to sign\n%s\n--- want ---\n%s\n"
			 "--- canonical request ---\n%s",
			 c->name, (char *)sts.data, c->sts, (char *)creq.data);
	if (strcmp((char *)authz.data, c->authz) != 0)
		fail_msg("%s: authorization\n%s\n--- want ---\n%s", c->name,
			 (char *)authz.data, c->authz);
	stow_buf_free(&authz);
	stow_buf_free(&creq);
	stow_buf_free(&sts);
}

static void test_aws_suite(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(suite) / sizeof(suite[0]); i++)
		run_case(&suite_signer, &suite[i], SUITE_DATE);
}

/* --- the S3 documentation examples ------------------------------------- */

#define S3_DATE "20130524T000000Z"
#define S3_EMPTY STOW_SIGV4_EMPTY_SHA256
#define S3_STS(hash)                                                           \
	"AWS4-HMAC-SHA256\n" S3_DATE "\n20130524/us-east-1/s3/aws4_request\n" hash
#define S3_AUTHZ(signed_headers, sig)                                          \
	"AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/" \
	"s3/aws4_request, SignedHeaders=" signed_headers ", Signature=" sig

static const stow_sigv4_signer s3_signer = {
    .access_key = "AKIAIOSFODNN7EXAMPLE",
    .secret_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    .region = "us-east-1",
    .service = "s3",
};

static const suite_case s3_examples[] = {
    /* "Example: GET Object": the first 10 bytes of test.txt. */
    {"s3-get-object-range",
     "GET",
     "/test.txt",
     "",
     {{"Host", "examplebucket.s3.amazonaws.com"},
      {"Range", "bytes=0-9"},
      {"x-amz-content-sha256", S3_EMPTY},
      {"x-amz-date", S3_DATE}},
     "",
     false,
     "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\n"
     "range:bytes=0-9\nx-amz-content-sha256:" S3_EMPTY "\n"
     "x-amz-date:20130524T000000Z\n\n"
     "host;range;x-amz-content-sha256;x-amz-date\n" S3_EMPTY,
     S3_STS(
	 "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972"),
     S3_AUTHZ(
	 "host;range;x-amz-content-sha256;x-amz-date",
	 "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")},
    /* "Example: PUT Object": '$' in the key is encoded in the path. */
    {"s3-put-object",
     "PUT",
     "/test$file.text",
     "",
     {{"Date", "Fri, 24 May 2013 00:00:00 GMT"},
      {"Host", "examplebucket.s3.amazonaws.com"},
      {"x-amz-content-sha256",
       "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"},
      {"x-amz-date", S3_DATE},
      {"x-amz-storage-class", "REDUCED_REDUNDANCY"}},
     "Welcome to Amazon S3.",
     false,
     "PUT\n/test%24file.text\n\ndate:Fri, 24 May 2013 00:00:00 GMT\n"
     "host:examplebucket.s3.amazonaws.com\n"
     "x-amz-content-sha256:"
     "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072\n"
     "x-amz-date:20130524T000000Z\nx-amz-storage-class:REDUCED_REDUNDANCY\n"
     "\ndate;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class\n"
     "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
     S3_STS(
	 "9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d"),
     S3_AUTHZ(
	 "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
	 "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd")},
    /* "Example: GET Bucket Lifecycle": a valueless parameter signs as
     * "lifecycle=". */
    {"s3-get-bucket-lifecycle",
     "GET",
     "/",
     "lifecycle",
     {{"Host", "examplebucket.s3.amazonaws.com"},
      {"x-amz-content-sha256", S3_EMPTY},
      {"x-amz-date", S3_DATE}},
     "",
     false,
     "GET\n/\nlifecycle=\nhost:examplebucket.s3.amazonaws.com\n"
     "x-amz-content-sha256:" S3_EMPTY "\nx-amz-date:20130524T000000Z\n\n"
     "host;x-amz-content-sha256;x-amz-date\n" S3_EMPTY,
     NULL,
     S3_AUTHZ(
	 "host;x-amz-content-sha256;x-amz-date",
	 "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543")},
    /* "Example: Get Bucket (List Objects)": sorted query. */
    {"s3-list-objects",
     "GET",
     "/",
     "prefix=J&max-keys=2",
     {{"Host", "examplebucket.s3.amazonaws.com"},
      {"x-amz-content-sha256", S3_EMPTY},
      {"x-amz-date", S3_DATE}},
     "",
     false,
     "GET\n/\nmax-keys=2&prefix=J\nhost:examplebucket.s3.amazonaws.com\n"
     "x-amz-content-sha256:" S3_EMPTY "\nx-amz-date:20130524T000000Z\n\n"
     "host;x-amz-content-sha256;x-amz-date\n" S3_EMPTY,
     NULL,
     S3_AUTHZ(
	 "host;x-amz-content-sha256;x-amz-date",
	 "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7")},
};

static void test_s3_doc_examples(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(s3_examples) / sizeof(s3_examples[0]);
	     i++) {
		suite_case c = s3_examples[i];
		stow_buf sts;

		if (c.sts) {
			run_case(&s3_signer, &c, S3_DATE);
			continue;
		}
		/* No published string to sign: take ours, still pinned by
		 * the canonical request and the final signature. */
		stow_buf_init(&sts, 0);
		{
			char hash[STOW_SIGV4_HASH_HEX_LEN];

			assert_int_equal(stow_sigv4_sha256_hex(
					     c.creq, strlen(c.creq), hash),
					 0);
			assert_int_equal(stow_buf_printf(&sts, "%s%s",
							 S3_STS(""), hash),
					 0);
		}
		c.sts = (const char *)sts.data;
		run_case(&s3_signer, &c, S3_DATE);
		stow_buf_free(&sts);
	}
}

/* Extra vectors produced with botocore's S3SigV4Auth by
 * tests/unit/sigv4_botocore_vectors.py: the requests our S3 backend really
 * sends (path-style key, list with continuation token, conditional put,
 * multi-delete, session token). */
#include "sigv4_botocore_vectors.h"

static void test_botocore_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(boto_cases) / sizeof(boto_cases[0]);
	     i++) {
		const boto_case *b = &boto_cases[i];
		stow_sigv4_signer k = {b->access_key, b->secret_key, b->region,
				       "s3"};
		stow_buf authz;
		stow_sigv4_request req = {0};
		size_t nh = 0;

		while (nh < 8 && b->headers[nh].name)
			nh++;
		stow_buf_init(&authz, 0);
		req.method = b->method;
		req.path = b->path;
		req.query = b->query;
		req.nquery = b->nquery;
		req.headers = b->headers;
		req.nheaders = nh;
		req.payload_hash = b->payload_hash;
		assert_int_equal(
		    stow_sigv4_sign(&k, &req, b->date, &authz, NULL), 0);
		if (strcmp((char *)authz.data, b->authz) != 0)
			fail_msg("%s:\n%s\n--- botocore ---\n%s", b->name,
				 (char *)authz.data, b->authz);
		stow_buf_free(&authz);
	}
}

/* --- helpers ------------------------------------------------------------ */

static void check_encode(const char *in, bool keep_slash, const char *want)
{
	stow_buf b;

	stow_buf_init(&b, 0);
	assert_int_equal(stow_sigv4_uri_encode(&b, in, strlen(in), keep_slash),
			 0);
	assert_int_equal(stow_buf_append_str(&b, ""), 0);
	assert_string_equal((char *)b.data, want);
	stow_buf_free(&b);
}

static void test_uri_encode(void **state)
{
	(void)state;
	check_encode("a b", false, "a%20b");
	check_encode("a+b", false, "a%2Bb");
	check_encode("100%", false, "100%25");
	check_encode("a/b", false, "a%2Fb");
	check_encode("a/b", true, "a/b");
	check_encode("A-z_0.9~", true, "A-z_0.9~");
	check_encode("=&?#*!'()$", true, "%3D%26%3F%23%2A%21%27%28%29%24");
	check_encode("\xd0\xba\xff", false, "%D0%BA%FF");
	check_encode("", false, "");
}

static void test_canonical_query(void **state)
{
	stow_sigv4_kv q[] = {{"prefix", "repo1/data/"},
			     {"list-type", "2"},
			     {"continuation-token", "1/a+b=="},
			     {"delete", NULL}};
	stow_buf b;

	(void)state;
	stow_buf_init(&b, 0);
	assert_int_equal(stow_sigv4_canonical_query(&b, q, 4), 0);
	assert_string_equal((char *)b.data,
			    "continuation-token=1%2Fa%2Bb%3D%3D&delete=&"
			    "list-type=2&prefix=repo1%2Fdata%2F");
	stow_buf_reset(&b);
	assert_int_equal(stow_sigv4_canonical_query(&b, NULL, 0), 0);
	assert_string_equal((char *)b.data, "");
	stow_buf_free(&b);
}

static void test_canonical_uri(void **state)
{
	stow_buf b;

	(void)state;
	stow_buf_init(&b, 0);
	/* S3: no normalisation, keys are literal. */
	assert_int_equal(stow_sigv4_canonical_uri(&b, "/b/a//./../k", false),
			 0);
	assert_string_equal((char *)b.data, "/b/a//./../k");
	stow_buf_reset(&b);
	assert_int_equal(stow_sigv4_canonical_uri(&b, "/a/b/..", true), 0);
	assert_string_equal((char *)b.data, "/a/");
	stow_buf_reset(&b);
	assert_int_equal(stow_sigv4_canonical_uri(&b, "/a/./b/../../..", true),
			 0);
	assert_string_equal((char *)b.data, "/");
	stow_buf_reset(&b);
	assert_int_equal(stow_sigv4_canonical_uri(&b, "no-slash", false),
			 STOW_EINVAL);
	stow_buf_free(&b);
}

static void test_bad_input(void **state)
{
	stow_sigv4_kv h[] = {{"Host", "example.amazonaws.com"},
			     {"X-Amz-Date", SUITE_DATE}};
	stow_sigv4_kv bad_name[] = {{"Host name", "x"}};
	stow_sigv4_kv bad_value[] = {{"Host", "a\r\nX-Evil: 1"}};
	stow_sigv4_request req = {"GET", "/", NULL, 0, h, 2,
				  STOW_SIGV4_EMPTY_SHA256, false};
	stow_sigv4_signer k = suite_signer;
	stow_buf b;

	(void)state;
	stow_buf_init(&b, 0);
	assert_int_equal(stow_sigv4_sign(&k, &req, "2015-08-30", &b, NULL),
			 STOW_EINVAL);
	req.headers = bad_name;
	req.nheaders = 1;
	assert_int_equal(stow_sigv4_sign(&k, &req, SUITE_DATE, &b, NULL),
			 STOW_EINVAL);
	req.headers = bad_value;
	assert_int_equal(stow_sigv4_sign(&k, &req, SUITE_DATE, &b, NULL),
			 STOW_EINVAL);
	req.headers = h;
	req.nheaders = 2;
	k.secret_key = "";
	assert_int_equal(stow_sigv4_sign(&k, &req, SUITE_DATE, &b, NULL),
			 STOW_EINVAL);
	k = suite_signer;
	k.region = "us-east-1/evil";
	assert_int_equal(stow_sigv4_sign(&k, &req, SUITE_DATE, &b, NULL),
			 STOW_EINVAL);
	/* The secret never leaks into an error message. */
	k = suite_signer;
	k.region = "";
	assert_int_equal(stow_sigv4_sign(&k, &req, SUITE_DATE, &b, NULL),
			 STOW_EINVAL);
	assert_null(strstr(stow_err_msg(), suite_signer.secret_key));
	assert_int_equal(b.len, 0);
	stow_buf_free(&b);
}

static void test_amz_date(void **state)
{
	char d[STOW_SIGV4_DATE_LEN];

	(void)state;
	assert_int_equal(stow_sigv4_amz_date(0, d), 0);
	assert_string_equal(d, "19700101T000000Z");
	assert_int_equal(stow_sigv4_amz_date(1440938160, d), 0);
	assert_string_equal(d, SUITE_DATE);
	assert_int_equal(stow_sigv4_amz_date(951782400, d), 0);
	assert_string_equal(d, "20000229T000000Z");
}

/* RFC 1321 appendix A.5 (stow_md5 exists for S3's Content-MD5). */
static void test_md5(void **state)
{
	static const struct {
		const char *in, *hex;
	} v[] = {
	    {"", "d41d8cd98f00b204e9800998ecf8427e"},
	    {"a", "0cc175b9c0f1b6a831c399e269772661"},
	    {"abc", "900150983cd24fb0d6963f7d28e17f72"},
	    {"message digest", "f96b697d7cb7938d525a2f31aaf161d0"},
	    {"12345678901234567890123456789012345678901234567890123456789012"
	     "345678901234567890",
	     "57edf4a22be3c955ac49da2e2107b67a"},
	};
	uint8_t d[16];
	char hex[33];

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		assert_int_equal(stow_md5(v[i].in, strlen(v[i].in), d), 0);
		stow_hex(hex, d, 16);
		assert_string_equal(hex, v[i].hex);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_aws_suite),
	    cmocka_unit_test(test_s3_doc_examples),
	    cmocka_unit_test(test_botocore_vectors),
	    cmocka_unit_test(test_uri_encode),
	    cmocka_unit_test(test_canonical_query),
	    cmocka_unit_test(test_canonical_uri),
	    cmocka_unit_test(test_bad_input),
	    cmocka_unit_test(test_amz_date),
	    cmocka_unit_test(test_md5),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
