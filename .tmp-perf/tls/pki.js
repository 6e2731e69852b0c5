// Certificates with node-forge: a CA and serving certificates signed by it.
import forge from 'node-forge';
function serial() {
    // positive 16-byte hex serial
    const bytes = forge.random.getBytesSync(16);
    const hex = forge.util.bytesToHex(bytes);
    return (parseInt(hex[0], 16) & 0x7).toString(16) + hex.slice(1);
}
function validity(cert, days) {
    const now = new Date();
    cert.validity.notBefore = new Date(now.getTime() - 5 * 60 * 1000); // tolerate clock skew
    cert.validity.notAfter = new Date(now.getTime() + days * 24 * 3600 * 1000);
}
export function generateCA(commonName = 'netpol-guard-ca', days = 3650, keyBits = 2048) {
    const keys = forge.pki.rsa.generateKeyPair({ bits: keyBits, e: 0x10001 });
    const cert = forge.pki.createCertificate();
    cert.publicKey = keys.publicKey;
    cert.serialNumber = serial();
    validity(cert, days);
    const attrs = [{ name: 'commonName', value: commonName }];
    cert.setSubject(attrs);
    cert.setIssuer(attrs);
    cert.setExtensions([
        { name: 'basicConstraints', cA: true, critical: true },
        { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
        { name: 'subjectKeyIdentifier' },
    ]);
    cert.sign(keys.privateKey, forge.md.sha256.create());
    return { cert: forge.pki.certificateToPem(cert), key: forge.pki.privateKeyToPem(keys.privateKey) };
}
export function issueServingCert(ca, opts) {
    const caCert = forge.pki.certificateFromPem(ca.cert);
    const caKey = forge.pki.privateKeyFromPem(ca.key);
    const keys = forge.pki.rsa.generateKeyPair({ bits: opts.keyBits ?? 2048, e: 0x10001 });
    const cert = forge.pki.createCertificate();
    cert.publicKey = keys.publicKey;
    cert.serialNumber = serial();
    validity(cert, opts.days ?? 365);
    cert.setSubject([{ name: 'commonName', value: opts.commonName }]);
    cert.setIssuer(caCert.subject.attributes);
    const altNames = [
        ...(opts.dnsNames ?? [opts.commonName]).map((value) => ({ type: 2, value })),
        ...(opts.ipAddresses ?? []).map((ip) => ({ type: 7, ip })),
    ];
    cert.setExtensions([
        { name: 'basicConstraints', cA: false },
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
        { name: 'extKeyUsage', serverAuth: true },
        { name: 'subjectAltName', altNames },
        { name: 'authorityKeyIdentifier', keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
    ]);
    cert.sign(caKey, forge.md.sha256.create());
    return { cert: forge.pki.certificateToPem(cert), key: forge.pki.privateKeyToPem(keys.privateKey) };
}
/** A throwaway CA and a serving pair for localhost, for running without --tls-cert/--tls-key. */
export function selfSignedServing(hostnames = ['localhost']) {
    const ca = generateCA('netpol-guard self-signed CA', 365);
    const pair = issueServingCert(ca, {
        commonName: hostnames[0] ?? 'localhost',
        dnsNames: hostnames,
        ipAddresses: ['127.0.0.1', '::1'],
        days: 365,
    });
    return { ...pair, ca: ca.cert };
}
//# sourceMappingURL=pki.js.map