import CRabbitMQ
import Foundation

/// A frame the IO loop must act on, read from the broker.
enum IncomingFrame {
    case delivery(consumerTag: String, Delivery)
    case ack(tag: UInt64, multiple: Bool)
    case nack(tag: UInt64, multiple: Bool)
    /// basic.return of a mandatory message; the ack for it follows.
    case returned(messageId: String?)
    /// `refusedPublish`: the broker closed the channel over a basic.publish (no such exchange, access refused, a
    /// user-id not the login's): the earliest unconfirmed publish is the one refused.
    case closed(String, refusedPublish: Bool = false)
    case nothing
}

/// One broker connection with one channel in confirm mode. Not thread-safe: only the IO thread touches it.
final class AMQPSession {
    private let state: amqp_connection_state_t
    private let channel: amqp_channel_t = 1
    let epoch: UInt64
    /// The login, stamped as `user-id` on every publish so that receivers know who sent it.
    private let user: String
    /// The delivery tag the broker gives the next publish (confirm mode numbers publishes from 1).
    private(set) var nextPublishTag: UInt64 = 1
    /// Whether the AMQP handshake completed, so that there is a connection to close.
    private var loggedIn = false

    // A throwing init of a class runs `deinit` once every stored property is set, so `deinit` alone frees `state`:
    // freeing it here too crashed every failed connect (double free in librabbitmq).
    init(configuration: AMQPConfiguration, epoch: UInt64) throws {
        guard let state = amqp_new_connection() else { throw SessionError("cannot allocate a connection") }
        self.state = state
        self.epoch = epoch
        self.user = configuration.user
        let socket = try Self.socket(state, tls: configuration.tls)
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        let status = amqp_socket_open_noblock(socket, configuration.host, Int32(configuration.port), &timeout)
        guard status == AMQP_STATUS_OK.rawValue else {
            // rabbitmq-c says only "a socket error occurred"; a second plain connect says which.
            let cause = status == AMQP_STATUS_SOCKET_ERROR.rawValue
                ? connectFailure(host: configuration.host, port: configuration.port) ?? Self.describe(status)
                : Self.describe(status)
            throw SessionError("connect to \(configuration.host):\(configuration.port): \(cause)")
        }
        let login = veem_amqp_login_plain(state, configuration.vhost, 0, 131_072, Int32(configuration.heartbeat),
                                          configuration.user, configuration.password)
        // A TLS listener drops a plain AMQP header: say what that likely means.
        let hint = configuration.tls == nil && login.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION
            && login.library_error == AMQP_STATUS_SOCKET_ERROR.rawValue
            ? " (the broker dropped the connection: if this is a TLS port, use amqps://)" : ""
        try check(login, "login" + hint)
        loggedIn = true
        amqp_channel_open(state, channel)
        try check(amqp_get_rpc_reply(state), "channel.open")
        amqp_confirm_select(state, channel)
        try check(amqp_get_rpc_reply(state), "confirm.select")
    }

    /// A TCP socket, or a TLS one set up from `tls`.
    private static func socket(_ state: amqp_connection_state_t, tls: AMQPTLS?) throws -> OpaquePointer {
        guard let tls else {
            guard let socket = amqp_tcp_socket_new(state) else { throw SessionError("cannot create a socket") }
            return socket
        }
        guard let socket = amqp_ssl_socket_new(state) else { throw SessionError("cannot create a TLS socket") }
        if let ca = tls.caFile, amqp_ssl_socket_set_cacert(socket, ca) != AMQP_STATUS_OK.rawValue {
            throw SessionError("TLS: cannot use \(ca) as CA certificates")
        }
        if let cert = tls.certFile, let key = tls.keyFile,
           amqp_ssl_socket_set_key(socket, cert, key) != AMQP_STATUS_OK.rawValue {
            throw SessionError("TLS: cannot use the client certificate \(cert) with key \(key)")
        }
        amqp_ssl_socket_set_verify_peer(socket, tls.verifyPeer ? 1 : 0)
        amqp_ssl_socket_set_verify_hostname(socket, tls.verifyPeer ? 1 : 0)
        return socket
    }

    deinit {
        // Best effort: a dead socket makes the close fail quickly.
        if loggedIn { amqp_connection_close(state, AMQP_REPLY_SUCCESS) }
        amqp_destroy_connection(state)
    }

    var socketDescriptor: Int32 { amqp_get_sockfd(state) }

    /// Holds frames back while corked and sends them in full segments when uncorked: rabbitmq-c writes each frame
    /// with its own send, and the broker pays per segment it reads.
    func cork(_ on: Bool) {
        var value: Int32 = on ? 1 : 0
        _ = setsockopt(socketDescriptor, Int32(IPPROTO_TCP), TCP_CORK, &value, socklen_t(MemoryLayout<Int32>.size))
    }

    /// Whether a frame can be read without waiting on the socket.
    var hasBufferedFrames: Bool { amqp_frames_enqueued(state) != 0 || amqp_data_in_buffer(state) != 0 }

    func declare(_ declaration: Declaration) throws {
        switch declaration {
        case .exchange(let name, let type, let durable):
            try withBytes(name, type) { name, type in
                amqp_exchange_declare(state, channel, name, type, 0, durable ? 1 : 0, 0, 0, amqp_empty_table)
            }
            try check(amqp_get_rpc_reply(state), "exchange.declare \(name)")
        case .existingExchange(let name):
            // Passive: needs no configure permission, so users that may only publish can check it.
            try withBytes(name, "topic") { name, type in
                amqp_exchange_declare(state, channel, name, type, 1, 0, 0, 0, amqp_empty_table)
            }
            do {
                try check(amqp_get_rpc_reply(state), "exchange \(name)")
            } catch let error as SessionError where error.description.contains("NOT_FOUND") {
                throw MessagingError.missingExchange(name)
            }
        case .queue(let name, let durable, let exclusive, let autoDelete, let arguments):
            try withTable(arguments) { table in
                try withBytes(name) { name in
                    amqp_queue_declare(state, channel, name, 0, durable ? 1 : 0, exclusive ? 1 : 0,
                                       autoDelete ? 1 : 0, table)
                }
            }
            try check(amqp_get_rpc_reply(state), "queue.declare \(name)")
        case .binding(let queue, let exchange, let key):
            try withBytes(queue, exchange, key) { queue, exchange, key in
                amqp_queue_bind(state, channel, queue, exchange, key, amqp_empty_table)
            }
            try check(amqp_get_rpc_reply(state), "queue.bind \(queue)")
        }
    }

    func consume(queue: String, consumerTag: String, prefetch: UInt16, noAck: Bool) throws {
        amqp_basic_qos(state, channel, 0, prefetch, 0)
        try check(amqp_get_rpc_reply(state), "basic.qos")
        try withBytes(queue, consumerTag) { queue, tag in
            amqp_basic_consume(state, channel, queue, tag, 0, noAck ? 1 : 0, 0, amqp_empty_table)
        }
        try check(amqp_get_rpc_reply(state), "basic.consume \(queue)")
    }

    /// Publishes and returns the tag its confirm will carry.
    func publish(exchange: String, routingKey: String, body: [UInt8], properties: MessageProperties,
                 mandatory: Bool) throws -> UInt64 {
        var props = amqp_basic_properties_t()
        var owned: [UnsafeMutableRawPointer] = []
        defer { owned.forEach { free($0) } }
        func bytes(_ text: String) -> amqp_bytes_t {
            let copy = copyBytes(text)
            if let pointer = copy.bytes { owned.append(pointer) }
            return copy
        }
        props._flags = amqp_flags_t(AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG
                                    | AMQP_BASIC_USER_ID_FLAG)
        props.content_type = bytes("application/json")
        props.user_id = bytes(user)
        props.delivery_mode = properties.persistent ? 2 : 1
        if let id = properties.messageId {
            props._flags |= amqp_flags_t(AMQP_BASIC_MESSAGE_ID_FLAG)
            props.message_id = bytes(id)
        }
        if let id = properties.correlationId {
            props._flags |= amqp_flags_t(AMQP_BASIC_CORRELATION_ID_FLAG)
            props.correlation_id = bytes(id)
        }
        if let replyTo = properties.replyTo {
            props._flags |= amqp_flags_t(AMQP_BASIC_REPLY_TO_FLAG)
            props.reply_to = bytes(replyTo)
        }
        if let type = properties.type {
            props._flags |= amqp_flags_t(AMQP_BASIC_TYPE_FLAG)
            props.type = bytes(type)
        }
        if let expiration = properties.expiration {
            props._flags |= amqp_flags_t(AMQP_BASIC_EXPIRATION_FLAG)
            let (seconds, attoseconds) = expiration.components
            props.expiration = bytes(String(max(0, seconds * 1000 + attoseconds / 1_000_000_000_000_000)))
        }
        let exchangeBytes = bytes(exchange)
        let keyBytes = bytes(routingKey)
        let status = body.withUnsafeBytes { raw in
            amqp_basic_publish(state, channel, exchangeBytes, keyBytes, mandatory ? 1 : 0, 0, &props,
                               amqp_bytes_t(len: raw.count, bytes: UnsafeMutableRawPointer(mutating: raw.baseAddress)))
        }
        guard status == AMQP_STATUS_OK.rawValue else { throw SessionError("publish: \(Self.describe(status))") }
        defer { nextPublishTag += 1 }
        return nextPublishTag
    }

    func ack(tag: UInt64) throws {
        let status = amqp_basic_ack(state, channel, tag, 0)
        guard status == AMQP_STATUS_OK.rawValue else { throw SessionError("ack: \(Self.describe(status))") }
    }

    func nack(tag: UInt64, requeue: Bool) throws {
        let status = amqp_basic_nack(state, channel, tag, 0, requeue ? 1 : 0)
        guard status == AMQP_STATUS_OK.rawValue else { throw SessionError("nack: \(Self.describe(status))") }
    }

    /// Reads at most one frame of interest without blocking (beyond finishing a message already arriving).
    /// Also lets the library send and check heartbeats.
    func read() throws -> IncomingFrame {
        amqp_maybe_release_buffers(state)
        var envelope = amqp_envelope_t()
        var zero = timeval(tv_sec: 0, tv_usec: 0)
        let reply = amqp_consume_message(state, &envelope, &zero, 0)
        switch reply.reply_type {
        case AMQP_RESPONSE_NORMAL:
            defer { amqp_destroy_envelope(&envelope) }
            let message = envelope.message
            let body = message.body.len > 0
                ? Array(UnsafeRawBufferPointer(start: message.body.bytes, count: message.body.len)) : []
            let delivery = Delivery(
                body: body, exchange: string(envelope.exchange), routingKey: string(envelope.routing_key),
                properties: Self.properties(message.properties), redelivered: envelope.redelivered != 0,
                previousDeliveries: Self.deliveryCount(message.properties), tag: envelope.delivery_tag, epoch: epoch)
            return .delivery(consumerTag: string(envelope.consumer_tag), delivery)
        case AMQP_RESPONSE_LIBRARY_EXCEPTION where reply.library_error == AMQP_STATUS_TIMEOUT.rawValue:
            return .nothing
        case AMQP_RESPONSE_LIBRARY_EXCEPTION where reply.library_error == AMQP_STATUS_UNEXPECTED_STATE.rawValue:
            return try readMethodFrame()
        case AMQP_RESPONSE_LIBRARY_EXCEPTION:
            return .closed(Self.describe(reply.library_error))
        default:
            return .closed("broker closed the connection")
        }
    }

    /// A non-delivery frame is next: confirms, returns, closes.
    private func readMethodFrame() throws -> IncomingFrame {
        var frame = amqp_frame_t()
        var zero = timeval(tv_sec: 0, tv_usec: 0)
        let status = amqp_simple_wait_frame_noblock(state, &frame, &zero)
        if status == AMQP_STATUS_TIMEOUT.rawValue { return .nothing }
        guard status == AMQP_STATUS_OK.rawValue else { return .closed(Self.describe(status)) }
        guard frame.frame_type == AMQP_FRAME_METHOD else { return .nothing }
        let method = frame.payload.method
        switch method.id {
        case AMQP_BASIC_ACK_METHOD:
            let ack = method.decoded.assumingMemoryBound(to: amqp_basic_ack_t.self).pointee
            return .ack(tag: ack.delivery_tag, multiple: ack.multiple != 0)
        case AMQP_BASIC_NACK_METHOD:
            let nack = method.decoded.assumingMemoryBound(to: amqp_basic_nack_t.self).pointee
            return .nack(tag: nack.delivery_tag, multiple: nack.multiple != 0)
        case AMQP_BASIC_RETURN_METHOD:
            var message = amqp_message_t()
            let reply = amqp_read_message(state, frame.channel, &message, 0)
            guard reply.reply_type == AMQP_RESPONSE_NORMAL else { return .closed("reading a returned message") }
            defer { amqp_destroy_message(&message) }
            return .returned(messageId: Self.properties(message.properties).messageId)
        case AMQP_CHANNEL_CLOSE_METHOD:
            let close = method.decoded.assumingMemoryBound(to: amqp_channel_close_t.self).pointee
            var ok = amqp_channel_close_ok_t()
            amqp_send_method(state, frame.channel, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok)
            let publish = close.class_id == 60 && close.method_id == 40
            return .closed("channel closed by broker: \(string(close.reply_text))", refusedPublish: publish)
        case AMQP_CONNECTION_CLOSE_METHOD:
            let close = method.decoded.assumingMemoryBound(to: amqp_connection_close_t.self).pointee
            var ok = amqp_connection_close_ok_t()
            amqp_send_method(state, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok)
            return .closed("connection closed by broker: \(string(close.reply_text))")
        case AMQP_BASIC_CANCEL_METHOD:
            return .closed("the broker cancelled a consumer")
        default:
            return .nothing
        }
    }

    /// Calls `body` with `arguments` as an AMQP field table, valid for the call.
    private func withTable(_ arguments: QueueArguments, _ body: (amqp_table_t) throws -> Void) throws {
        var owned: [UnsafeMutableRawPointer] = []
        defer { owned.forEach { free($0) } }
        func text(_ key: String, _ value: String) -> amqp_table_entry_t {
            let keyBytes = copyBytes(key), valueBytes = copyBytes(value)
            [keyBytes.bytes, valueBytes.bytes].compactMap { $0 }.forEach { owned.append($0) }
            var field = amqp_field_value_t()
            field.kind = UInt8(AMQP_FIELD_KIND_UTF8.rawValue)
            field.value.bytes = valueBytes
            return amqp_table_entry_t(key: keyBytes, value: field)
        }
        var entries: [amqp_table_entry_t] = []
        if arguments.quorum { entries.append(text("x-queue-type", "quorum")) }
        if let exchange = arguments.deadLetterExchange { entries.append(text("x-dead-letter-exchange", exchange)) }
        if let limit = arguments.deliveryLimit {
            let key = copyBytes("x-delivery-limit")
            if let pointer = key.bytes { owned.append(pointer) }
            var field = amqp_field_value_t()
            field.kind = UInt8(AMQP_FIELD_KIND_I32.rawValue)
            field.value.i32 = Int32(limit)
            entries.append(amqp_table_entry_t(key: key, value: field))
        }
        guard !entries.isEmpty else { return try body(amqp_empty_table) }
        try entries.withUnsafeMutableBufferPointer { buffer in
            try body(amqp_table_t(num_entries: Int32(buffer.count), entries: buffer.baseAddress))
        }
    }

    /// A text header of a message, if it has one.
    private static func header(_ p: amqp_basic_properties_t, _ name: String) -> String? {
        guard p._flags & amqp_flags_t(AMQP_BASIC_HEADERS_FLAG) != 0, let entries = p.headers.entries else { return nil }
        for index in 0..<Int(p.headers.num_entries) where string(entries[index].key) == name {
            let value = entries[index].value
            guard Int32(value.kind) == Int32(AMQP_FIELD_KIND_UTF8.rawValue)
                    || Int32(value.kind) == Int32(AMQP_FIELD_KIND_BYTES.rawValue) else { return nil }
            return string(value.value.bytes)
        }
        return nil
    }

    /// `x-delivery-count` from a message's headers; 0 when absent.
    private static func deliveryCount(_ p: amqp_basic_properties_t) -> Int {
        guard p._flags & amqp_flags_t(AMQP_BASIC_HEADERS_FLAG) != 0, let entries = p.headers.entries else { return 0 }
        for index in 0..<Int(p.headers.num_entries) where string(entries[index].key) == "x-delivery-count" {
            let value = entries[index].value
            switch Int32(value.kind) {
            case Int32(AMQP_FIELD_KIND_I8.rawValue): return Int(value.value.i8)
            case Int32(AMQP_FIELD_KIND_U8.rawValue): return Int(value.value.u8)
            case Int32(AMQP_FIELD_KIND_I16.rawValue): return Int(value.value.i16)
            case Int32(AMQP_FIELD_KIND_U16.rawValue): return Int(value.value.u16)
            case Int32(AMQP_FIELD_KIND_I32.rawValue): return Int(value.value.i32)
            case Int32(AMQP_FIELD_KIND_U32.rawValue): return Int(value.value.u32)
            case Int32(AMQP_FIELD_KIND_I64.rawValue): return Int(value.value.i64)
            case Int32(AMQP_FIELD_KIND_U64.rawValue), Int32(AMQP_FIELD_KIND_TIMESTAMP.rawValue):
                return Int(clamping: value.value.u64)
            default: return 0
            }
        }
        return 0
    }

    private func check(_ reply: amqp_rpc_reply_t, _ what: String) throws {
        switch reply.reply_type {
        case AMQP_RESPONSE_NORMAL: return
        case AMQP_RESPONSE_LIBRARY_EXCEPTION: throw SessionError("\(what): \(Self.describe(reply.library_error))")
        case AMQP_RESPONSE_SERVER_EXCEPTION:
            if reply.reply.id == AMQP_CHANNEL_CLOSE_METHOD {
                let close = reply.reply.decoded.assumingMemoryBound(to: amqp_channel_close_t.self).pointee
                throw SessionError("\(what): \(string(close.reply_text))")
            }
            if reply.reply.id == AMQP_CONNECTION_CLOSE_METHOD {
                let close = reply.reply.decoded.assumingMemoryBound(to: amqp_connection_close_t.self).pointee
                throw SessionError("\(what): \(string(close.reply_text))")
            }
            throw SessionError("\(what): broker error")
        default: throw SessionError("\(what): no reply")
        }
    }

    private static func properties(_ p: amqp_basic_properties_t) -> MessageProperties {
        func field(_ flag: Int32, _ value: amqp_bytes_t) -> String? {
            p._flags & amqp_flags_t(flag) != 0 ? string(value) : nil
        }
        return MessageProperties(
            messageId: field(AMQP_BASIC_MESSAGE_ID_FLAG, p.message_id),
            correlationId: field(AMQP_BASIC_CORRELATION_ID_FLAG, p.correlation_id),
            replyTo: field(AMQP_BASIC_REPLY_TO_FLAG, p.reply_to),
            type: field(AMQP_BASIC_TYPE_FLAG, p.type),
            persistent: p._flags & amqp_flags_t(AMQP_BASIC_DELIVERY_MODE_FLAG) != 0 && p.delivery_mode == 2,
            deathReason: header(p, "x-first-death-reason"),
            userId: field(AMQP_BASIC_USER_ID_FLAG, p.user_id))
    }

    static func describe(_ status: Int32) -> String {
        amqp_error_string2(status).map { String(cString: $0) } ?? "status \(status)"
    }

    /// Calls `body` with malloc'd copies of `texts`: rabbitmq-c keeps no pointer past the call, but Swift's temporary
    /// string pointers do not live long enough for it (notes: "Malformed UTF-8 in shortstr").
    private func withBytes(_ texts: String..., body: ([amqp_bytes_t]) -> Void) throws {
        let copies = texts.map(copyBytes)
        defer { copies.forEach { free($0.bytes) } }
        body(copies)
    }

    private func withBytes(_ a: String, _ body: (amqp_bytes_t) -> Void) throws {
        try withBytes(a) { (all: [amqp_bytes_t]) in body(all[0]) }
    }

    private func withBytes(_ a: String, _ b: String, _ body: (amqp_bytes_t, amqp_bytes_t) -> Void) throws {
        try withBytes(a, b) { (all: [amqp_bytes_t]) in body(all[0], all[1]) }
    }

    private func withBytes(_ a: String, _ b: String, _ c: String,
                           _ body: (amqp_bytes_t, amqp_bytes_t, amqp_bytes_t) -> Void) throws {
        try withBytes(a, b, c) { (all: [amqp_bytes_t]) in body(all[0], all[1], all[2]) }
    }
}

struct SessionError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

private func copyBytes(_ text: String) -> amqp_bytes_t {
    let utf8 = Array(text.utf8)
    guard !utf8.isEmpty, let pointer = malloc(utf8.count) else { return amqp_bytes_t(len: 0, bytes: nil) }
    utf8.withUnsafeBytes { pointer.copyMemory(from: $0.baseAddress!, byteCount: utf8.count) }
    return amqp_bytes_t(len: utf8.count, bytes: pointer)
}

private func string(_ bytes: amqp_bytes_t) -> String {
    guard bytes.len > 0, let pointer = bytes.bytes else { return "" }
    return String(decoding: UnsafeRawBufferPointer(start: pointer, count: bytes.len), as: UTF8.self)
}

/// Why a TCP connect to `host:port` fails ("Connection refused", "No route to host"), or nil if it succeeds now.
private func connectFailure(host: String, port: Int) -> String? {
    var hints = addrinfo()
    hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
    var found: UnsafeMutablePointer<addrinfo>?
    let lookup = getaddrinfo(host, String(port), &hints, &found)
    guard lookup == 0, let address = found else { return String(cString: gai_strerror(lookup)) }
    defer { freeaddrinfo(found) }
    let socket = Glibc.socket(address.pointee.ai_family, address.pointee.ai_socktype | Int32(SOCK_NONBLOCK.rawValue),
                              address.pointee.ai_protocol)
    guard socket >= 0 else { return String(cString: strerror(errno)) }
    defer { Glibc.close(socket) }
    if Glibc.connect(socket, address.pointee.ai_addr, address.pointee.ai_addrlen) == 0 { return nil }
    guard errno == EINPROGRESS else { return String(cString: strerror(errno)) }
    var poll = pollfd(fd: socket, events: Int16(POLLOUT), revents: 0)
    guard Glibc.poll(&poll, 1, 5000) == 1 else { return "timed out" }
    var failure: Int32 = 0
    var length = socklen_t(MemoryLayout<Int32>.size)
    getsockopt(socket, SOL_SOCKET, SO_ERROR, &failure, &length)
    return failure == 0 ? nil : String(cString: strerror(failure))
}
