#!/bin/sh
# Makes the test PKI of the signature tests in OUTDIR (default ./pki), with the openssl
# command line only:
#   root.pem / root-key.pem         a root CA (RSA 2048)
#   inter.pem                       an intermediate CA under the root
#   agency.pem + agency-key.pem     a signer (RSA 2048) under the intermediate;
#   agency-chain.pem                  its certificate then the intermediate's
#   agency-enc-key.pem              the same key encrypted (passphrase in passphrase.txt)
#   agency.p12                      key, certificate and chain (same passphrase)
#   ec.pem + ec-key.pem, ec-chain.pem   a signer with a P-256 key
#   expired.pem + expired-key.pem   a signer whose certificate expired in 2021
#   future.pem + future-key.pem     a signer whose certificate is valid from 2099
#   small.pem + small-key.pem       a signer with an RSA 1024 key
#   nosign.pem + nosign-key.pem     a certificate for key encipherment only
#   revoked.pem + revoked-key.pem   a signer revoked in crl.pem
#   other-root.pem, stranger.pem + stranger-key.pem   another root and a signer under it
#   agency-pub.pem                  the agency's public key alone
#   admin.pem + admin-key.pem, admin-chain.pem   a TLS server certificate for 127.0.0.1
#   van-hanh.pem, khach.pem (+ -key, -chain)     TLS client certificates (CN van-hanh-1,
#                                                khach-la)
set -eu
out=${1:-pki}
mkdir -p "$out"
cd "$out"
rm -rf ca && mkdir -p ca/newcerts && : > ca/index.txt && echo 1000 > ca/serial && echo 1000 > ca/crlnumber
cat > ca.cnf <<'CNF'
[ ca ]
default_ca = inter
[ inter ]
dir = ca
database = ca/index.txt
new_certs_dir = ca/newcerts
serial = ca/serial
crlnumber = ca/crlnumber
certificate = inter.pem
private_key = inter-key.pem
default_md = sha256
default_crl_days = 3650
policy = any
unique_subject = no
copy_extensions = none
[ any ]
commonName = supplied
organizationName = optional
countryName = optional
[ signer ]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature, nonRepudiation
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ encipher ]
basicConstraints = CA:FALSE
keyUsage = critical, keyEncipherment
[ server ]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
[ client ]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
[ subca ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
CNF
q() { "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; exit 1; }; }

q openssl req -x509 -newkey rsa:2048 -nodes -keyout root-key.pem -out root.pem -days 3650 \
  -subj "/C=VN/O=Test Root CA/CN=Test Root CA" -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign,cRLSign"
q openssl req -newkey rsa:2048 -nodes -keyout inter-key.pem -out inter.csr \
  -subj "/C=VN/O=Test Root CA/CN=Test Intermediate CA"
q openssl x509 -req -in inter.csr -CA root.pem -CAkey root-key.pem -CAcreateserial -days 3650 \
  -extfile ca.cnf -extensions subca -out inter.pem

# signer NAME KEYSPEC SUBJECT [EXTENSIONS] [CA-ARGS...]
signer() {
  name=$1 spec=$2 subject=$3 ext=${4:-signer}
  shift 3; [ $# -gt 0 ] && shift
  if [ "$spec" = ec ]; then
    q openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$name-key.pem"
  else
    q openssl genpkey -algorithm RSA -pkeyopt "rsa_keygen_bits:$spec" -out "$name-key.pem"
  fi
  q openssl req -new -key "$name-key.pem" -out "$name.csr" -subj "$subject"
  q openssl ca -batch -config ca.cnf -extensions "$ext" -in "$name.csr" -out "$name.pem" -notext "$@"
  cat "$name.pem" inter.pem > "$name-chain.pem"
}
signer agency 2048 "/C=VN/O=UBND tinh Ha Giang/CN=So Tu phap tinh Ha Giang" signer -days 730
signer ec ec "/C=VN/O=UBND tinh Ha Giang/CN=Van phong UBND tinh" signer -days 730
signer expired 2048 "/C=VN/O=UBND tinh Ha Giang/CN=Het han" signer \
  -startdate 20200101000000Z -enddate 20210101000000Z
signer future 2048 "/C=VN/O=UBND tinh Ha Giang/CN=Chua hieu luc" signer \
  -startdate 20991231000000Z -enddate 21001231000000Z
signer small 1024 "/C=VN/O=UBND tinh Ha Giang/CN=Khoa ngan" signer -days 730
signer nosign 2048 "/C=VN/O=UBND tinh Ha Giang/CN=Chi ma hoa" encipher -days 730
signer revoked 2048 "/C=VN/O=UBND tinh Ha Giang/CN=Da thu hoi" signer -days 730
q openssl ca -batch -config ca.cnf -revoke revoked.pem
q openssl ca -batch -config ca.cnf -gencrl -out crl.pem
# The admin API's server certificate (127.0.0.1, localhost) and two client certificates.
signer admin 2048 "/C=VN/O=lienthong/CN=localhost" server -days 730
signer van-hanh 2048 "/C=VN/O=So TTTT/CN=van-hanh-1" client -days 730
signer khach 2048 "/C=VN/O=So TTTT/CN=khach-la" client -days 730

q openssl req -x509 -newkey rsa:2048 -nodes -keyout other-root-key.pem -out other-root.pem \
  -days 3650 -subj "/C=VN/O=Other Root/CN=Other Root" -addext "basicConstraints=critical,CA:TRUE"
q openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out stranger-key.pem
q openssl req -new -key stranger-key.pem -out stranger.csr -subj "/C=VN/CN=Stranger"
q openssl x509 -req -in stranger.csr -CA other-root.pem -CAkey other-root-key.pem \
  -CAcreateserial -days 730 -out stranger.pem

printf 'mat-khau-thu\n' > passphrase.txt
q openssl pkey -in agency-key.pem -aes256 -passout pass:mat-khau-thu -out agency-enc-key.pem
q openssl pkcs12 -export -inkey agency-key.pem -in agency.pem -certfile inter.pem \
  -passout pass:mat-khau-thu -out agency.p12
q openssl pkey -in agency-key.pem -pubout -out agency-pub.pem
rm -f ./*.csr
echo "test PKI in $(pwd)"
