/*
 * secret.c — the kubernetes.io/tls Secret that carries the webhook's pair
 * into the cluster, as a manifest for `kubectl apply -f`.
 *
 * The one idea: the same three keys a cert-manager Certificate writes
 * (tls.crt, tls.key, ca.crt), so the webhook Deployment mounts either
 * Secret unchanged and the two ways to install stay interchangeable.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "certs.h"

static int add_b64(struct eo_buf *out, const char *key, const char *pem)
{
	char *b64 = eo_b64_encode(pem, strlen(pem));
	int rc = eo_buf_printf(out, "  %s: %s\n", key, b64);
	OPENSSL_cleanse(b64, strlen(b64));
	free(b64);
	return rc;
}

int certs_secret_yaml(const char *name, const char *namespace, const char *cert_pem,
		      const char *key_pem, const char *ca_pem, struct eo_buf *out,
		      struct eo_err *err)
{
	if (!name || !certs_valid_dns(name) || name[0] == '*')
		return eo_err_set(err, EO_EINVAL,
				  "--name \"%s\": a Secret name is a DNS subdomain (a-z, 0-9, '-', '.')",
				  name ? name : "");
	if (!certs_valid_label(namespace))
		return eo_err_set(err, EO_EINVAL,
				  "--namespace \"%s\": a namespace is a DNS label (a-z, 0-9, '-', at most 63)",
				  namespace ? namespace : "");
	if (!cert_pem || !key_pem)
		return eo_err_set(err, EO_EINVAL, "a Secret needs both the certificate and the key");
	if (eo_buf_printf(out,
			  "# The webhook's serving certificate and key, made by etcd-certs.\n"
			  "# It holds a private key: apply it, do not commit it.\n"
			  "apiVersion: v1\n"
			  "kind: Secret\n"
			  "metadata:\n"
			  "  name: %s\n"
			  "  namespace: %s\n"
			  "  labels:\n"
			  "    app.kubernetes.io/managed-by: etcd-certs\n"
			  "    app.kubernetes.io/part-of: etcd-k8s-operator\n"
			  "type: kubernetes.io/tls\n"
			  "data:\n",
			  name, namespace) != 0 ||
	    add_b64(out, "tls.crt", cert_pem) != 0 || add_b64(out, "tls.key", key_pem) != 0 ||
	    (ca_pem && add_b64(out, "ca.crt", ca_pem) != 0))
		return eo_err_set(err, EO_ENOMEM, "out of memory");
	return 0;
}
