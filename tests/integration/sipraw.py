"""A raw SIP client over UDP for the attack tests: one request, the final answer's code."""

from __future__ import annotations

import hashlib
import re
import socket
import uuid

__all__ = ["SipAnswer", "request"]


class SipAnswer:
    def __init__(self, text: str):
        self.text = text
        m = re.match(r"SIP/2\.0 (\d{3})", text)
        self.code = int(m[1]) if m else 0

    def header(self, name: str) -> str:
        m = re.search(rf"^{name}:\s*(.*?)\r?$", self.text, re.M | re.I)
        return m[1] if m else ""


def _digest(user: str, password: str, method: str, uri: str, challenge: str) -> str:
    realm = re.search(r'realm="([^"]*)"', challenge)[1]  # type: ignore[index]
    nonce = re.search(r'nonce="([^"]*)"', challenge)[1]  # type: ignore[index]
    ha1 = hashlib.md5(f"{user}:{realm}:{password}".encode()).hexdigest()
    ha2 = hashlib.md5(f"{method}:{uri}".encode()).hexdigest()
    resp = hashlib.md5(f"{ha1}:{nonce}:{ha2}".encode()).hexdigest()
    return (f'Digest username="{user}", realm="{realm}", nonce="{nonce}", uri="{uri}", '
            f'response="{resp}", algorithm=MD5')


def request(method: str, user: str, *, src: str, target: tuple[str, int], to_user: str = "",
            password: str | None = None, timeout: float = 3.0) -> SipAnswer:
    """Send METHOD as `user` from address `src`; with `password`, answer one challenge.
    Returns the final (non-1xx) answer; code 0 if none came."""
    host, port = target
    to_user = to_user or user
    uri = f"sip:{to_user}@{host}:{port}" if method != "REGISTER" else f"sip:{host}:{port}"
    call_id, tag = uuid.uuid4().hex, uuid.uuid4().hex[:8]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((src, 0))
        sock.settimeout(timeout)
        lport = sock.getsockname()[1]

        def send(cseq: int, auth: str = "") -> SipAnswer:
            body = (f"v=0\r\no=- 1 1 IN IP4 {src}\r\ns=-\r\nc=IN IP4 {src}\r\nt=0 0\r\n"
                    "m=audio 40000 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n") \
                if method == "INVITE" else ""
            lines = [f"{method} {uri} SIP/2.0",
                     f"Via: SIP/2.0/UDP {src}:{lport};branch=z9hG4bK{uuid.uuid4().hex};rport",
                     "Max-Forwards: 70",
                     f"From: <sip:{user}@{host}>;tag={tag}",
                     f"To: <sip:{to_user}@{host}>",
                     f"Call-ID: {call_id}", f"CSeq: {cseq} {method}",
                     f"Contact: <sip:{user}@{src}:{lport}>", "User-Agent: attacker"]
            if method == "REGISTER":
                lines.append("Expires: 60")
            if auth:
                lines.append(f"Authorization: {auth}")
            if body:
                lines.append("Content-Type: application/sdp")
            lines.append(f"Content-Length: {len(body)}")
            sock.sendto(("\r\n".join(lines) + "\r\n\r\n" + body).encode(), target)
            while True:
                try:
                    data, _ = sock.recvfrom(65535)
                except TimeoutError:
                    return SipAnswer("")
                ans = SipAnswer(data.decode("utf-8", "replace"))
                if ans.code >= 200:
                    if method == "INVITE":  # ACK a final answer, so Asterisk stops resending
                        ack = "\r\n".join([f"ACK {uri} SIP/2.0", lines[1], lines[2], lines[3],
                                           f"To: {ans.header('To')}", f"Call-ID: {call_id}",
                                           f"CSeq: {cseq} ACK", "Content-Length: 0"])
                        sock.sendto((ack + "\r\n\r\n").encode(), target)
                    return ans

        first = send(1)
        if password is None or first.code not in (401, 407):
            return first
        challenge = first.header("WWW-Authenticate") or first.header("Proxy-Authenticate")
        return send(2, _digest(user, password, method, uri, challenge))
