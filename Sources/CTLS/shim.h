// The system's OpenSSL (libssl-dev), for TLS on the bus and the HTTP API. Macros and variadic calls Swift cannot
// import are wrapped here; the certificate-making code for `honeycombd tls init` lives here too, since it is
// OpenSSL plumbing with no decisions in it.
#ifndef HIVE_CTLS_SHIM_H
#define HIVE_CTLS_SHIM_H
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/// Modes and options every Hive context shares: TLS 1.2 at least, no renegotiation, a peer's TCP close without
/// close_notify is an ordinary EOF, writes may be retried from a moved buffer (an outbound queue may reallocate),
/// and read-ahead with a large buffer (one recv per many records rather than two per record).
/* OpenSSL without its exit handler: by default OPENSSL_cleanup runs at exit() and frees the library's locks while
   other threads (a client's reader in SSL_read) may still be inside it, which crashed `hive` on its way out. The
   first init call decides, so every entry point calls this before anything else. */
static inline void hive_tls_init(void) {
    OPENSSL_init_ssl(OPENSSL_INIT_NO_ATEXIT | OPENSSL_INIT_LOAD_SSL_STRINGS | OPENSSL_INIT_LOAD_CRYPTO_STRINGS, NULL);
}

static inline void hive_tls_ctx_defaults(SSL_CTX *ctx) {
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_read_ahead(ctx, 1);
    SSL_CTX_set_default_read_buffer_len(ctx, 64 * 1024);
}

static inline int hive_tls_set_sni(SSL *ssl, const char *name) { return (int)SSL_set_tlsext_host_name(ssl, name); }

/// Verification against `host`: a DNS name (SSL_set1_host) or an IP literal (matched against IP SANs).
static inline int hive_tls_expect_host(SSL *ssl, const char *host, int isIP) {
    if (isIP) return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host);
    return SSL_set1_host(ssl, host);
}

/// The earliest queued OpenSSL error's reason (e.g. "wrong version number", "tlsv1 alert unknown ca"), the queue
/// cleared. Empty when none.
static inline void hive_tls_take_error(char *buf, size_t len) {
    unsigned long first = ERR_get_error();
    buf[0] = 0;
    if (first != 0) {
        const char *reason = ERR_reason_error_string(first);
        if (reason) { strncpy(buf, reason, len - 1); buf[len - 1] = 0; }
        else ERR_error_string_n(first, buf, len);
    }
    ERR_clear_error();
}

static inline EVP_PKEY *hive_tls_new_key(void) { return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"); }

static inline int hive_tls_add_ext(X509 *cert, X509 *issuer, int nid, const char *value) {
    X509V3_CTX v3;
    X509V3_set_ctx(&v3, issuer ? issuer : cert, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
    if (!ext) return 0;
    int ok = X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    return ok;
}

/// A certificate for `key`, signed by `issuerKey` (self-signed when `issuer` is NULL): subject CN `cn`, valid from
/// an hour ago for `days` days, a random 128-bit serial. `kind`: 0 a CA, 1 a server (and client: honeycombd's
/// certificate also serves mutual TLS), 2 a client. `san` is a comma-separated subjectAltName list or NULL.
static inline X509 *hive_tls_make_cert(EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuerKey, const char *cn,
                                       int kind, const char *san, int days) {
    X509 *cert = X509_new();
    if (!cert) return NULL;
    X509_set_version(cert, 2);
    BIGNUM *bn = BN_new();
    if (!bn || !BN_rand(bn, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) ||
        !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert))) { BN_free(bn); X509_free(cert); return NULL; }
    BN_free(bn);
    X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
    X509_time_adj_ex(X509_getm_notAfter(cert), days, 0, NULL);
    X509_set_pubkey(cert, key);
    X509_NAME *name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, (const unsigned char *)"Hive", -1, -1, 0);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(cert, issuer ? X509_get_subject_name(issuer) : name);
    int ok = 1;
    if (kind == 0) {
        ok &= hive_tls_add_ext(cert, issuer, NID_basic_constraints, "critical,CA:TRUE,pathlen:0");
        ok &= hive_tls_add_ext(cert, issuer, NID_key_usage, "critical,keyCertSign,cRLSign");
    } else {
        ok &= hive_tls_add_ext(cert, issuer, NID_basic_constraints, "critical,CA:FALSE");
        ok &= hive_tls_add_ext(cert, issuer, NID_key_usage, "critical,digitalSignature,keyEncipherment");
        ok &= hive_tls_add_ext(cert, issuer, NID_ext_key_usage, kind == 1 ? "serverAuth,clientAuth" : "clientAuth");
    }
    ok &= hive_tls_add_ext(cert, issuer, NID_subject_key_identifier, "hash");
    if (issuer) ok &= hive_tls_add_ext(cert, issuer, NID_authority_key_identifier, "keyid:always");
    if (san && san[0]) ok &= hive_tls_add_ext(cert, issuer, NID_subject_alt_name, san);
    if (!ok || !X509_sign(cert, issuerKey, EVP_sha256())) { X509_free(cert); return NULL; }
    return cert;
}

/// PEM text of a certificate (key NULL) or of a private key (cert NULL), malloc'd into *out (caller frees).
static inline long hive_tls_pem(X509 *cert, EVP_PKEY *key, char **out) {
    BIO *bio = BIO_new(BIO_s_mem());
    if (!bio) return -1;
    int ok = cert ? PEM_write_bio_X509(bio, cert) : PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL);
    char *data = NULL;
    long len = BIO_get_mem_data(bio, &data);
    if (!ok || len <= 0) { BIO_free(bio); return -1; }
    *out = malloc((size_t)len);
    if (!*out) { BIO_free(bio); return -1; }
    memcpy(*out, data, (size_t)len);
    BIO_free(bio);
    return len;
}

static inline X509 *hive_tls_read_cert(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    X509 *cert = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    return cert;
}

static inline EVP_PKEY *hive_tls_read_key(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    EVP_PKEY *key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    return key;
}

/// Seconds from now until the certificate's notAfter (negative once expired); 0 with *ok = 0 on failure.
static inline long hive_tls_seconds_left(X509 *cert, int *ok) {
    int days = 0, secs = 0;
    *ok = ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(cert));
    return (long)days * 86400 + secs;
}

/// Seconds from now until notBefore (positive while the certificate is not valid yet).
static inline long hive_tls_seconds_until_valid(X509 *cert, int *ok) {
    int days = 0, secs = 0;
    *ok = ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notBefore(cert));
    return (long)days * 86400 + secs;
}

/// The subject CN of `cert` into buf ("" when none).
static inline void hive_tls_common_name(X509 *cert, char *buf, int len) {
    buf[0] = 0;
    if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, buf, len) < 0) buf[0] = 0;
}

/// The DNS, email and IP subjectAltNames of `cert`, one per line as "DNS:name", "email:addr", "IP:addr", into buf.
static inline void hive_tls_alt_names(X509 *cert, char *buf, size_t len) {
    buf[0] = 0;
    GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    if (!names) return;
    size_t used = 0;
    for (int i = 0; i < sk_GENERAL_NAME_num(names); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
        char item[300];
        item[0] = 0;
        if (g->type == GEN_DNS || g->type == GEN_EMAIL) {
            const ASN1_STRING *s = g->type == GEN_DNS ? g->d.dNSName : g->d.rfc822Name;
            int n = ASN1_STRING_length(s);
            if (n > 250) continue;
            snprintf(item, sizeof item, "%s:%.*s\n", g->type == GEN_DNS ? "DNS" : "email", n,
                     (const char *)ASN1_STRING_get0_data(s));
        } else if (g->type == GEN_IPADD) {
            const ASN1_OCTET_STRING *ip = g->d.iPAddress;
            const unsigned char *p = ASN1_STRING_get0_data(ip);
            if (ASN1_STRING_length(ip) == 4) {
                snprintf(item, sizeof item, "IP:%u.%u.%u.%u\n", p[0], p[1], p[2], p[3]);
            } else if (ASN1_STRING_length(ip) == 16) {
                size_t k = (size_t)snprintf(item, sizeof item, "IP:");
                for (int j = 0; j < 16; j += 2) k += (size_t)snprintf(item + k, sizeof item - k, j ? ":%x" : "%x", (p[j] << 8) | p[j + 1]);
                snprintf(item + k, sizeof item - k, "\n");
            }
        }
        size_t n = strlen(item);
        if (n == 0 || used + n + 1 > len) continue;
        memcpy(buf + used, item, n);
        used += n;
        buf[used] = 0;
    }
    GENERAL_NAMES_free(names);
}

/// Verification callback: keeps the peer's own certificate (depth 0) as soon as verification looks at it (a failed
/// handshake has no peer certificate to ask about afterwards), so an error can say which names it had or when it
/// expired. Decides nothing: `ok` passes through. Kept in the session's app data (ex_data 0, the application's
/// slot; no static state here: each Swift file that uses this header gets its own copy of its statics), released
/// by `hive_tls_release_seen`.
static int hive_tls_verify_cb(int ok, X509_STORE_CTX *store) {
    SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
    if (ssl && !SSL_get_app_data(ssl)) {
        X509 *cert = X509_STORE_CTX_get0_cert(store);
        if (cert && X509_up_ref(cert)) SSL_set_app_data(ssl, cert);
    }
    return ok;
}

static inline void hive_tls_set_verify(SSL_CTX *ctx, int mode) { SSL_CTX_set_verify(ctx, mode, hive_tls_verify_cb); }

/// The peer certificate verification looked at on `ssl`, if any (owned by the session).
static inline X509 *hive_tls_failed_cert(SSL *ssl) { return (X509 *)SSL_get_app_data(ssl); }

/// Frees the session and the certificate the callback kept.
static inline void hive_tls_free_session(SSL *ssl) {
    X509 *seen = (X509 *)SSL_get_app_data(ssl);
    if (seen) X509_free(seen);
    SSL_free(ssl);
}

/// Lets a trust store take a non-self-signed certificate as an anchor (a pinned intermediate or leaf).
static inline void hive_tls_allow_partial_chain(SSL_CTX *ctx) {
    X509_STORE_set_flags(SSL_CTX_get_cert_store(ctx), X509_V_FLAG_PARTIAL_CHAIN);
}

#endif
