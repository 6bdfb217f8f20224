import Daemon
import Foundation

/// How a gateway listens and how patient it is.
public struct GatewayConfiguration: Sendable {
    public var host: String
    /// 0 picks a free port (tests); `onListening` reports it.
    public var port: Int
    /// How far a request's X-Amz-Date may be from now; nil switches the check off (test rigs only).
    public var clockSkew: TimeInterval?
    /// How long to wait for the coordinator before answering 503 (botocore retries that).
    public var timeout: Duration
    /// Largest request body taken (EC2's own limit is about 1 MB for most calls).
    public var maxBodyBytes: Int

    public init(host: String = "127.0.0.1", port: Int = 8773, clockSkew: TimeInterval? = 300,
                timeout: Duration = .seconds(30), maxBodyBytes: Int = 1 << 20) {
        self.host = host
        self.port = port
        self.clockSkew = clockSkew
        self.timeout = timeout
        self.maxBodyBytes = maxBodyBytes
    }

    /// Reads `VEEM_EC2_LISTEN` (`HOST:PORT`, default 127.0.0.1:8773), `VEEM_EC2_CLOCK_SKEW_SECONDS` (default 300;
    /// `off` disables the check) and `VEEM_EC2_TIMEOUT_SECONDS` (default 30).
    public init(settings: Settings) throws {
        let listen = settings.string("VEEM_EC2_LISTEN", default: "127.0.0.1:8773")
        guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]),
              (0...65535).contains(port), colon > listen.startIndex
        else { throw SettingsError(message: "VEEM_EC2_LISTEN must be HOST:PORT, got '\(listen)'") }
        let skewText = settings.string("VEEM_EC2_CLOCK_SKEW_SECONDS", default: "300")
        var skew: TimeInterval?
        if skewText != "off" {
            guard let seconds = TimeInterval(skewText), seconds > 0 else {
                throw SettingsError(message: "VEEM_EC2_CLOCK_SKEW_SECONDS must be a positive number or off, got "
                    + "'\(skewText)'")
            }
            skew = seconds
        }
        self.init(host: String(listen[..<colon]), port: port, clockSkew: skew,
                  timeout: try settings.seconds("VEEM_EC2_TIMEOUT_SECONDS", default: 30))
    }
}
