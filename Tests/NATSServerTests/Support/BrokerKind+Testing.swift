import NATSTestSupport
import Testing

extension BrokerKind: CustomTestStringConvertible {
    public var testDescription: String { rawValue }
}
