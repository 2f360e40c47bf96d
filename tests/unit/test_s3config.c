/* S3 location parsing and credential resolution: defaults, every option,
 * every refusal, the environment, and the AWS shared-credentials file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "storage/s3.h"
#include "util/err.h"

static char tmpdir[256];

static const char *const aws_env[] = {
    "AWS_REGION",	 "AWS_DEFAULT_REGION",
    "AWS_PROFILE",	 "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
};

static int setup(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(aws_env) / sizeof(aws_env[0]); i++)
		unsetenv(aws_env[i]);
	snprintf(tmpdir, sizeof(tmpdir), "%s/stow-s3cfg-XXXXXX",
		 getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR")
						       : "/tmp");
	assert_non_null(mkdtemp(tmpdir));
	setenv("HOME", tmpdir, 1);
	return 0;
}

static int teardown(void **state)
{
	char cmd[600];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_defaults(void **state)
{
	stow_s3_config c;
	char want[512];

	(void)state;
	assert_int_equal(stow_s3_config_parse(&c, "s3://my-bucket"), 0);
	assert_string_equal(c.bucket, "my-bucket");
	assert_string_equal(c.prefix, "");
	assert_string_equal(c.region, "us-east-1");
	assert_string_equal(c.endpoint, "https://s3.us-east-1.amazonaws.com");
	assert_false(c.path_style);
	assert_false(c.insecure_skip_verify);
	assert_null(c.ca_cert);
	assert_string_equal(c.profile, "default");
	snprintf(want, sizeof(want), "%s/.aws/credentials", tmpdir);
	assert_string_equal(c.credentials_file, want);
	assert_int_equal(c.timeout_s, 60);
	assert_int_equal(c.retries, 6);
	assert_null(c.access_key);
	stow_s3_config_free(&c);
	assert_null(c.bucket);
	stow_s3_config_free(NULL);
}

static void test_prefix(void **state)
{
	stow_s3_config c;

	(void)state;
	assert_int_equal(stow_s3_config_parse(&c, "s3://b/velero/kopia/ns1"),
			 0);
	assert_string_equal(c.prefix, "velero/kopia/ns1");
	stow_s3_config_free(&c);
	/* Leading and trailing slashes go, as Velero trims its prefix. */
	assert_int_equal(stow_s3_config_parse(&c, "s3://b//a/b//?region=x-1"),
			 0);
	assert_string_equal(c.prefix, "a/b");
	stow_s3_config_free(&c);
	assert_int_equal(stow_s3_config_parse(&c, "s3://b/"), 0);
	assert_string_equal(c.prefix, "");
	stow_s3_config_free(&c);
	/* Inside, a prefix is a key: no empty or dot segments. */
	assert_int_equal(stow_s3_config_parse(&c, "s3://b/a//b"), STOW_EINVAL);
	assert_non_null(strstr(stow_err_msg(), "prefix"));
	assert_int_equal(stow_s3_config_parse(&c, "s3://b/a/../b"),
			 STOW_EINVAL);
	assert_int_equal(stow_s3_config_parse(&c, "s3://b/a b"), STOW_EINVAL);
	assert_null(c.bucket); /* freed and zeroed on failure */
}

static void test_options(void **state)
{
	stow_s3_config c;

	(void)state;
	assert_int_equal(
	    stow_s3_config_parse(
		&c, "s3://test/repo1?s3Url=HTTP://127.0.0.1:4568/&"
		    "s3ForcePathStyle=true&region=eu-central-1&"
		    "insecureSkipTLSVerify=1&caCert=%2Fetc%2Fmy%20ca.pem&"
		    "profile=backup&credentialsFile=%2Fsecrets%2Fcloud&"
		    "timeout=5&retries=0&publicUrl=http%3A%2F%2Fx&"
		    "signatureVersion=4&&"),
	    0);
	assert_string_equal(c.endpoint, "http://127.0.0.1:4568");
	assert_true(c.path_style);
	assert_string_equal(c.region, "eu-central-1");
	assert_true(c.insecure_skip_verify);
	assert_string_equal(c.ca_cert, "/etc/my ca.pem");
	assert_string_equal(c.profile, "backup");
	assert_string_equal(c.credentials_file, "/secrets/cloud");
	assert_int_equal(c.timeout_s, 5);
	assert_int_equal(c.retries, 0);
	stow_s3_config_free(&c);

	/* The default endpoint follows the region. */
	assert_int_equal(stow_s3_config_parse(&c, "s3://b?region=ap-south-1&"
						  "s3ForcePathStyle=False"),
			 0);
	assert_string_equal(c.endpoint, "https://s3.ap-south-1.amazonaws.com");
	assert_false(c.path_style);
	stow_s3_config_free(&c);

	/* An endpoint with a path keeps it; '+' is a plus. */
	assert_int_equal(
	    stow_s3_config_parse(&c, "s3://b?s3Url=https://gw.example/s3/&"
				     "caCert=/a+b.pem"),
	    0);
	assert_string_equal(c.endpoint, "https://gw.example/s3");
	assert_string_equal(c.ca_cert, "/a+b.pem");
	stow_s3_config_free(&c);
}

static void expect_bad(const char *loc, int code, const char *needle)
{
	stow_s3_config c;
	int rc = stow_s3_config_parse(&c, loc);

	if (rc != code)
		fail_msg("%s: got %d (%s), want %d", loc, rc, stow_err_msg(),
			 code);
	if (needle && !strstr(stow_err_msg(), needle))
		fail_msg("%s: message \"%s\" lacks \"%s\"", loc, stow_err_msg(),
			 needle);
	assert_null(c.bucket);
}

static void test_refusals(void **state)
{
	(void)state;
	expect_bad("gs://b", STOW_EINVAL, "s3://");
	expect_bad("s3://", STOW_EINVAL, "bucket");
	expect_bad("s3:///prefix", STOW_EINVAL, "bucket");
	expect_bad("s3://bu/cket?x", STOW_EINVAL, "no value");
	expect_bad("s3://b!d", STOW_EINVAL, "bucket");
	expect_bad("s3://b?s3url=http://x", STOW_EINVAL, "unknown option");
	expect_bad("s3://b?region=a&region=b", STOW_EINVAL, "twice");
	expect_bad("s3://b?s3Url=ftp://x", STOW_EINVAL, "http://");
	expect_bad("s3://b?s3Url=http://", STOW_EINVAL, "no host");
	expect_bad("s3://b?s3Url=http://u:p@host", STOW_EINVAL, "credentials");
	expect_bad("s3://b?s3Url=http://h/?q=1", STOW_EINVAL, "query");
	expect_bad("s3://b?s3Url=http://h%20x", STOW_EINVAL, "space");
	expect_bad("s3://b?region=US_EAST", STOW_EINVAL, "region");
	expect_bad("s3://b?region=", STOW_EINVAL, "region");
	expect_bad("s3://b?timeout=0", STOW_EINVAL, "timeout");
	expect_bad("s3://b?timeout=5s", STOW_EINVAL, "timeout");
	expect_bad("s3://b?timeout=-1", STOW_EINVAL, "timeout");
	expect_bad("s3://b?retries=101", STOW_EINVAL, "retries");
	expect_bad("s3://b?retries=99999999999999999999", STOW_EINVAL,
		   "retries");
	expect_bad("s3://b?s3ForcePathStyle=yes", STOW_EINVAL, "true or false");
	expect_bad("s3://b?caCert=%zz", STOW_EINVAL, "escape");
	expect_bad("s3://b?caCert=%4", STOW_EINVAL, "escape");
	expect_bad("s3://b?caCert=a%00b", STOW_EINVAL, "escape");
	expect_bad("s3://b?caCert=", STOW_EINVAL, "caCert");
	expect_bad("s3://b?profile=a%5Db", STOW_EINVAL, "profile");
	expect_bad("s3://b?serverSideEncryption=AES256", STOW_EUNSUPPORTED,
		   "serverSideEncryption");
	expect_bad("s3://b?signatureVersion=1", STOW_EUNSUPPORTED,
		   "signatureVersion");
}

static void test_env_defaults(void **state)
{
	stow_s3_config c;

	(void)state;
	setenv("AWS_DEFAULT_REGION", "eu-west-3", 1);
	assert_int_equal(stow_s3_config_parse(&c, "s3://b"), 0);
	assert_string_equal(c.region, "eu-west-3");
	stow_s3_config_free(&c);
	setenv("AWS_REGION", "eu-west-1", 1); /* wins over the default */
	setenv("AWS_PROFILE", "prod", 1);
	setenv("AWS_SHARED_CREDENTIALS_FILE", "/etc/aws-creds", 1);
	assert_int_equal(stow_s3_config_parse(&c, "s3://b"), 0);
	assert_string_equal(c.region, "eu-west-1");
	assert_string_equal(c.endpoint, "https://s3.eu-west-1.amazonaws.com");
	assert_string_equal(c.profile, "prod");
	assert_string_equal(c.credentials_file, "/etc/aws-creds");
	stow_s3_config_free(&c);
	/* The location wins over the environment. */
	assert_int_equal(stow_s3_config_parse(&c, "s3://b?region=us-west-2&"
						  "profile=p2&"
						  "credentialsFile=/f"),
			 0);
	assert_string_equal(c.region, "us-west-2");
	assert_string_equal(c.profile, "p2");
	assert_string_equal(c.credentials_file, "/f");
	stow_s3_config_free(&c);
	setenv("AWS_REGION", "not a region", 1);
	expect_bad("s3://b", STOW_EINVAL, "AWS_REGION");
	unsetenv("AWS_REGION");
	unsetenv("AWS_DEFAULT_REGION");
	unsetenv("AWS_PROFILE");
	unsetenv("AWS_SHARED_CREDENTIALS_FILE");
}

static void test_credentials_env(void **state)
{
	stow_s3_config c;

	(void)state;
	setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "envsecret", 1);
	setenv("AWS_SESSION_TOKEN", "envtoken", 1);
	assert_int_equal(stow_s3_config_parse(&c, "s3://b"), 0);
	assert_int_equal(stow_s3_config_resolve_credentials(&c), 0);
	assert_string_equal(c.access_key, "AKIDENV");
	assert_string_equal(c.secret_key, "envsecret");
	assert_string_equal(c.session_token, "envtoken");
	assert_non_null(strstr(c.credentials_source, "environment"));
	stow_s3_config_free(&c);
	unsetenv("AWS_SESSION_TOKEN");
	assert_int_equal(stow_s3_config_parse(&c, "s3://b"), 0);
	assert_int_equal(stow_s3_config_resolve_credentials(&c), 0);
	assert_null(c.session_token);
	stow_s3_config_free(&c);

	/* Only one of the pair: the file is tried, and the message says
	 * why the environment was not used. */
	unsetenv("AWS_SECRET_ACCESS_KEY");
	assert_int_equal(stow_s3_config_parse(&c, "s3://b"), 0);
	assert_int_equal(stow_s3_config_resolve_credentials(&c), STOW_EINVAL);
	assert_non_null(strstr(stow_err_msg(), "only one of"));
	assert_non_null(strstr(stow_err_msg(), "does not exist"));
	stow_s3_config_free(&c);
	unsetenv("AWS_ACCESS_KEY_ID");
}

static const char creds_text[] =
    "# comment\n"
    "; another comment\n"
    "[default]\n"
    "aws_access_key_id = AKIDDEFAULT\n"
    "aws_secret_access_key = defaultsecret\n"
    "\n"
    "[profile backup]\r\n"
    "AWS_ACCESS_KEY_ID=AKIDBACKUP  \r\n"
    "  aws_secret_access_key = this-is-a-continuation-line\r\n"
    "aws_secret_access_key\t=  backup secret with spaces \r\n"
    "aws_session_token = tok/+=\r\n"
    "s3 =\n"
    "    max_concurrent_requests = 20\n"
    "[nosecret]\n"
    "aws_access_key_id = AKIDNOSECRET\n"
    "[ spaced ]\n"
    "aws_access_key_id = AKIDSPACED\n"
    "aws_secret_access_key = spacedsecret # not a comment\n";

static void test_credentials_file(void **state)
{
	stow_s3_config c;
	char path[512], loc[700];

	(void)state;
	snprintf(path, sizeof(path), "%s/creds", tmpdir);
	write_file(path, creds_text);

	snprintf(loc, sizeof(loc), "s3://b?credentialsFile=%s", path);
	assert_int_equal(stow_s3_config_parse(&c, loc), 0);
	assert_int_equal(stow_s3_config_resolve_credentials(&c), 0);
	assert_string_equal(c.access_key, "AKIDDEFAULT");
	assert_string_equal(c.secret_key, "defaultsecret");
	assert_null(c.session_token);
	assert_non_null(strstr(c.credentials_source, path));
	assert_non_null(strstr(c.credentials_source, "profile default"));
	stow_s3_config_free(&c);

	snprintf(loc, sizeof(loc), "s3://b?credentialsFile=%s&profile=backup",
		 path);
	assert_int_equal(stow_s3_config_parse(&c, loc), 0);
	assert_int_equal(stow_s3_config_resolve_credentials(&c), 0);
	assert_string_equal(c.access_key, "AKIDBACKUP");
	assert_string_equal(c.secret_key, "backup secret with spaces");
	assert_string_equal(c.session_token, "tok/+=");
	stow_s3_config_free(&c);

	snprintf(loc, sizeof(loc), "s3://b?credentialsFile=%s&profile=spaced",
		 path);
	assert_int_equal(stow_s3_config_parse(&c, loc), 0);
	assert_int_equal(stow_s3_config_resolve_credentials(&c), 0);
	assert_string_equal(c.secret_key, "spacedsecret # not a comment");
	stow_s3_config_free(&c);

	snprintf(loc, sizeof(loc), "s3://b?credentialsFile=%s&profile=nosecret",
		 path);
	assert_int_equal(stow_s3_config_parse(&c, loc), 0);
	assert_int_equal(stow_s3_config_resolve_credentials(&c), STOW_EINVAL);
	assert_non_null(strstr(stow_err_msg(), "aws_secret_access_key"));
	assert_non_null(strstr(stow_err_msg(), "[nosecret]"));
	stow_s3_config_free(&c);

	/* A missing profile lists the ones there, and no secret leaks. */
	snprintf(loc, sizeof(loc), "s3://b?credentialsFile=%s&profile=prod",
		 path);
	assert_int_equal(stow_s3_config_parse(&c, loc), 0);
	assert_int_equal(stow_s3_config_resolve_credentials(&c), STOW_EINVAL);
	assert_non_null(strstr(stow_err_msg(), "no profile [prod]"));
	assert_non_null(strstr(stow_err_msg(), "default, backup"));
	assert_null(strstr(stow_err_msg(), "defaultsecret"));
	assert_null(strstr(stow_err_msg(), "backup secret"));
	assert_null(strstr(stow_err_msg(), "AKID"));
	stow_s3_config_free(&c);

	/* The environment beats the file. */
	setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "envsecret", 1);
	snprintf(loc, sizeof(loc), "s3://b?credentialsFile=%s", path);
	assert_int_equal(stow_s3_config_parse(&c, loc), 0);
	assert_int_equal(stow_s3_config_resolve_credentials(&c), 0);
	assert_string_equal(c.access_key, "AKIDENV");
	stow_s3_config_free(&c);
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");

	/* $HOME/.aws/credentials is the default file. */
	snprintf(path, sizeof(path), "%s/.aws", tmpdir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/.aws/credentials", tmpdir);
	write_file(path, "[default]\naws_access_key_id=A\n"
			 "aws_secret_access_key=S\n");
	assert_int_equal(stow_s3_config_parse(&c, "s3://b"), 0);
	assert_int_equal(stow_s3_config_resolve_credentials(&c), 0);
	assert_string_equal(c.access_key, "A");
	stow_s3_config_free(&c);
}

static void test_credentials_missing(void **state)
{
	stow_s3_config c;
	char path[512], loc[700];
	FILE *f;

	(void)state;
	assert_int_equal(stow_s3_config_parse(&c, "s3://b?credentialsFile="
						  "/nonexistent/creds"),
			 0);
	assert_int_equal(stow_s3_config_resolve_credentials(&c), STOW_EINVAL);
	assert_non_null(strstr(stow_err_msg(), "/nonexistent/creds"));
	assert_non_null(strstr(stow_err_msg(), "are not set"));
	stow_s3_config_free(&c);

	/* No HOME, no file option: say what to do. */
	unsetenv("HOME");
	assert_int_equal(stow_s3_config_parse(&c, "s3://b"), 0);
	assert_null(c.credentials_file);
	assert_int_equal(stow_s3_config_resolve_credentials(&c), STOW_EINVAL);
	assert_non_null(strstr(stow_err_msg(), "credentialsFile"));
	stow_s3_config_free(&c);
	setenv("HOME", tmpdir, 1);

	/* A directory or a huge file is not a credentials file. */
	snprintf(loc, sizeof(loc), "s3://b?credentialsFile=%s", tmpdir);
	assert_int_equal(stow_s3_config_parse(&c, loc), 0);
	assert_int_equal(stow_s3_config_resolve_credentials(&c), STOW_EINVAL);
	stow_s3_config_free(&c);
	snprintf(path, sizeof(path), "%s/huge", tmpdir);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fseek(f, 2 << 20, SEEK_SET), 0);
	fputc('x', f);
	fclose(f);
	snprintf(loc, sizeof(loc), "s3://b?credentialsFile=%s", path);
	assert_int_equal(stow_s3_config_parse(&c, loc), 0);
	assert_int_equal(stow_s3_config_resolve_credentials(&c), STOW_EINVAL);
	assert_non_null(strstr(stow_err_msg(), "1 MiB"));
	stow_s3_config_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_prefix, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_options, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_env_defaults, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_credentials_env, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_credentials_file, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_credentials_missing, setup,
					    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
